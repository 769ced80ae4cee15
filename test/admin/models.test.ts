/**
 * The admin API over models: organization admins see and act on their organization's models only;
 * lists page by keyset without gaps or repeats, sort by name, size, activity and creation, and
 * search sealed names; re-own, delete and restore go through the sharing service.
 */
import crypto from 'node:crypto';
import test from 'ava';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';

type Row = Record<string, unknown>;

async function all(world: OrgWorld, token: string, path: string, limit: number): Promise<{ rows: Row[]; pages: number }> {
  const rows: Row[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await world.call('GET', `${path}${sep}limit=${limit}${next ? `&next=${next}` : ''}`, token);
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
    rows.push(...(res.body['models'] as Row[]));
    next = res.body['next'] as string | null;
    pages++;
  } while (next);
  return { rows, pages };
}

async function baseline(world: OrgWorld, token: string, modelId: string, bytes: number) {
  const body = crypto.randomBytes(bytes);
  const res = await world.server.fetch(`${world.server.url}/api/v1/models/${modelId}/baselines?seq=0`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:` },
    body,
  });
  if (res.status !== 201) throw new Error(`baseline: ${res.status} ${await res.text()}`);
}

test('an organization admin sees and touches nothing of another organization', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const ada = await world.login(people.ada);
  const rita = await world.login(people.rita);
  const firmModel = String((await world.call('POST', '/api/v1/models', bob.token, { name: 'Firm secret tower' })).body['id']);

  // Refusals first: Rita administers Rival, not Firm.
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}/models`, rita.token)).status, 404);
  for (const [method, suffix] of [['GET', ''], ['GET', '/members'], ['GET', '/invitations'], ['DELETE', ''], ['POST', '/restore']] as const) {
    const res = await world.call(method, `/api/v1/organizations/${world.rival}/models/${firmModel}${suffix}`, rita.token);
    t.is(res.status, 404, `${method} ${suffix}`);
  }
  t.is((await world.call('POST', `/api/v1/organizations/${world.rival}/models/${firmModel}/owner`, rita.token, { user_id: rita.id })).status, 404);
  t.is((await world.call('GET', '/api/v1/admin/models', ada.token)).status, 403, 'an organization admin is no server admin');
  const rivalList = await world.call('GET', `/api/v1/organizations/${world.rival}/models?deleted=include`, rita.token);
  t.deepEqual(rivalList.body['models'], []);
  // Nothing changed, and the attempt on Firm's model is in the log.
  const model = await world.call('GET', `/api/v1/organizations/${world.firm}/models/${firmModel}`, ada.token);
  t.is(model.status, 200);
  t.false(model.body['deleted']);
  t.is((model.body['owner'] as Row)['id'], bob.id);
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'model.admin' && e.outcome === 'denied' && e.actor_id === rita.id && e.target?.id === firmModel));
});

test('models page by keyset, sort by name, size, activity and creation, and search sealed names', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const ada = await world.login(people.ada);
  const root = await world.login(people.root);
  const names = Array.from({ length: 23 }, (_, i) => `${['Beam', 'Column', 'Slab'][i % 3]} ${String.fromCharCode(90 - i)}${i}`);
  const ids: string[] = [];
  for (const name of names) {
    world.clock.advance(1000);
    ids.push(String((await world.call('POST', '/api/v1/models', bob.token, { name })).body['id']));
  }
  const path = `/api/v1/organizations/${world.firm}/models`;

  const byName = await all(world, ada.token, `${path}?sort=name`, 5);
  t.is(byName.pages, 5);
  t.deepEqual(byName.rows.map((r) => r['name']), [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
  const byNameDesc = await all(world, ada.token, `${path}?sort=name&order=desc`, 4);
  t.deepEqual(byNameDesc.rows.map((r) => r['name']), byName.rows.map((r) => r['name']).reverse());

  const created = await all(world, ada.token, `${path}?sort=created`, 6);
  t.deepEqual(created.rows.map((r) => r['id']), [...ids].reverse(), 'newest first by default, no gaps or repeats');

  // Search over sealed names, case-insensitive, across pages and sorts.
  const beams = names.filter((n) => n.startsWith('Beam'));
  for (const sort of ['name', 'created', 'size', 'activity']) {
    const found = await all(world, ada.token, `${path}?q=bEaM&sort=${sort}`, 3);
    t.deepEqual(found.rows.map((r) => r['name']).sort(), [...beams].sort(), sort);
  }
  // A common letter takes the other way (walking the keyset in batches); the result is the same.
  const withA = names.filter((n) => n.toLowerCase().includes('a'));
  t.true(withA.length ** 2 > 4 * names.length, 'many matches for pages of 3');
  for (const sort of ['name', 'created', 'size']) {
    const found = await all(world, ada.token, `${path}?q=A&sort=${sort}`, 3);
    t.deepEqual(found.rows.map((r) => r['name']).sort(), [...withA].sort(), sort);
  }
  const createdWithA = await all(world, ada.token, `${path}?q=a&sort=created&order=asc`, 3);
  t.deepEqual(createdWithA.rows.map((r) => r['id']), ids.filter((_, i) => names[i]!.toLowerCase().includes('a')));
  t.deepEqual((await world.call('GET', `${path}?q=nothing-like-it`, ada.token)).body['models'], []);

  // Size and activity: three models get baselines of different sizes, the last one most recently.
  world.clock.advance(1000);
  await baseline(world, bob.token, ids[4]!, 3000);
  world.clock.advance(1000);
  await baseline(world, bob.token, ids[9]!, 1000);
  world.clock.advance(1000);
  await baseline(world, bob.token, ids[2]!, 2000);
  const bySize = await all(world, ada.token, `${path}?sort=size`, 2);
  t.deepEqual(bySize.rows.slice(0, 3).map((r) => [r['id'], r['size']]), [[ids[4], 3000], [ids[2], 2000], [ids[9], 1000]]);
  t.is(bySize.rows.length, 23);
  const byActivity = await all(world, ada.token, `${path}?sort=activity`, 4);
  t.deepEqual(byActivity.rows.slice(0, 3).map((r) => r['id']), [ids[2], ids[9], ids[4]]);
  const one = await world.call('GET', `${path}/${ids[4]}`, ada.token);
  t.like(one.body, { size: 3000, packet_count: 0, member_count: 1, deleted: false, organization_id: world.firm });

  // A cursor continues only the sort it came from; a forged one is refused.
  const first = await world.call('GET', `${path}?sort=size&limit=2`, ada.token);
  t.is((await world.call('GET', `${path}?sort=name&next=${first.body['next']}`, ada.token)).status, 400);
  t.is((await world.call('GET', `${path}?next=bm90LWEtY3Vyc29y`, ada.token)).status, 400);
  t.is((await world.call('GET', `${path}?sort=colour`, ada.token)).status, 400);

  // Server admins see every model, and narrow to one organization.
  const everything = await all(world, root.token, `/api/v1/admin/models?organization_id=${world.firm}&sort=name`, 10);
  t.deepEqual(everything.rows.map((r) => r['id']), byName.rows.map((r) => r['id']));
  t.deepEqual((await world.call('GET', `/api/v1/admin/models?organization_id=${world.rival}`, root.token)).body['models'], []);
});

test('organization and server admins re-own, delete and restore models, and see members and invitations', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const ada = await world.login(people.ada);
  const root = await world.login(people.root);
  const vic = await world.login({ sub: 'vic', email: 'vic@firm.example', email_verified: true, name: 'Vic Viewer' });
  const modelId = String((await world.call('POST', '/api/v1/models', bob.token, { name: 'Stadium roof' })).body['id']);
  t.is((await world.call('POST', `/api/v1/models/${modelId}/invitations`, bob.token, { email: 'carla@partner.example', role: 'viewer' })).status, 201);
  const base = `/api/v1/organizations/${world.firm}/models/${modelId}`;

  // A member who is no organization admin is refused (the gate of the route).
  t.is((await world.call('GET', base, vic.token)).status, 403);
  t.is((await world.call('DELETE', base, vic.token)).status, 403);

  const members = await world.call('GET', `${base}/members`, ada.token);
  t.deepEqual((members.body['members'] as Row[]).map((m) => [m['user_id'], m['role']]), [[bob.id, 'owner']]);
  const invitations = await world.call('GET', `${base}/invitations`, ada.token);
  t.deepEqual((invitations.body['invitations'] as Row[]).map((i) => i['email']), ['carla@partner.example']);

  const reowned = await world.call('POST', `${base}/owner`, ada.token, { user_id: vic.id });
  t.is(reowned.status, 200, JSON.stringify(reowned.body));
  t.is((reowned.body['owner'] as Row)['id'], vic.id);
  t.is(world.server.services.sharing.routeDeps.repo.role(modelId, bob.id), 'admin', 'the old owner becomes an admin');

  t.is((await world.call('DELETE', base, ada.token)).status, 204);
  t.is((await world.call('GET', `/api/v1/models/${modelId}`, vic.token)).status, 404, 'deleted for its members at once');
  const listed = (q: string) => world.call('GET', `/api/v1/organizations/${world.firm}/models?deleted=${q}`, ada.token).then((r) => (r.body['models'] as Row[]).map((m) => m['id']));
  t.deepEqual(await listed('exclude'), []);
  t.deepEqual(await listed('only'), [modelId]);
  t.deepEqual(await listed('include'), [modelId]);
  t.is((await world.call('GET', `${base}/members`, ada.token)).status, 200, 'a deleted model still shows its members to admins');

  // A server admin who belongs to no organization restores it.
  const restored = await world.call('POST', `/api/v1/admin/models/${modelId}/restore`, root.token);
  t.is(restored.status, 200, JSON.stringify(restored.body));
  t.false(restored.body['deleted']);
  t.is((await world.call('GET', `/api/v1/models/${modelId}`, vic.token)).status, 200);
  const actions = world.server.services.audit.recent(new Date(0)).filter((e) => e.target?.id === modelId && e.outcome === 'allowed').map((e) => `${e.action}:${e.actor_id === root.id ? 'root' : e.actor_id === ada.id ? 'ada' : 'bob'}`);
  t.true(['model.transfer:ada', 'model.delete:ada', 'model.restore:root'].every((a) => actions.includes(a)), actions.join(' '));
});
