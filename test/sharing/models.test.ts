import test from 'ava';
import { modelWorld } from '../helpers/models.ts';
import { apiCall, person } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';

test('who may call what on a model: refusals first, then each role that may', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const anonymous = { call: apiCall(server, undefined) };
  type Row = [string, { call: typeof w.owner.call }, string, string, unknown, number];
  const rows: Row[] = [
    ['anonymous get', anonymous, 'GET', m, undefined, 401],
    ['anonymous list', anonymous, 'GET', '/api/v1/models', undefined, 401],
    ['outsider get', w.outsider, 'GET', m, undefined, 404],
    ['outsider members', w.outsider, 'GET', `${m}/members`, undefined, 404],
    ['outsider rename', w.outsider, 'PATCH', m, { name: 'x' }, 404],
    ['outsider delete', w.outsider, 'DELETE', m, undefined, 404],
    ['outsider packets', w.outsider, 'GET', `${m}/packets`, undefined, 404],
    ['outsider events', w.outsider, 'GET', `${m}/events`, undefined, 404],
    ['outsider invite', w.outsider, 'POST', `${m}/invitations`, { email: 'x@firm.example', role: 'viewer' }, 404],
    ['unknown model', w.owner, 'GET', '/api/v1/models/m_000000000000000000000000', undefined, 404],
    ['hostile model id', w.owner, 'GET', '/api/v1/models/..%2F..%2Fetc', undefined, 404],
    ['viewer rename', w.viewer, 'PATCH', m, { name: 'x' }, 403],
    ['editor rename', w.editor, 'PATCH', m, { name: 'x' }, 403],
    ['viewer invite', w.viewer, 'POST', `${m}/invitations`, { email: 'x@firm.example', role: 'viewer' }, 403],
    ['editor invite', w.editor, 'POST', `${m}/invitations`, { email: 'x@firm.example', role: 'viewer' }, 403],
    ['editor list invitations', w.editor, 'GET', `${m}/invitations`, undefined, 403],
    ['admin delete', w.admin, 'DELETE', m, undefined, 403],
    ['admin transfer', w.admin, 'POST', `${m}/owner`, { user_id: w.admin.id }, 403],
    ['viewer set role', w.viewer, 'PUT', `${m}/members/${w.editor.id}`, { role: 'viewer' }, 403],
    ['editor remove viewer', w.editor, 'DELETE', `${m}/members/${w.viewer.id}`, undefined, 403],
    ['admin raises to owner', w.admin, 'PUT', `${m}/members/${w.editor.id}`, { role: 'owner' }, 400],
    ['admin changes owner', w.admin, 'PUT', `${m}/members/${w.owner.id}`, { role: 'viewer' }, 403],
    ['admin removes owner', w.admin, 'DELETE', `${m}/members/${w.owner.id}`, undefined, 403],
    ['bad json', w.owner, 'PATCH', m, { name: '' }, 400],
    ['viewer get', w.viewer, 'GET', m, undefined, 200],
    ['viewer members', w.viewer, 'GET', `${m}/members`, undefined, 200],
    ['admin list invitations', w.admin, 'GET', `${m}/invitations`, undefined, 200],
    ['admin rename', w.admin, 'PATCH', m, { name: 'Bridge B-12 rev. 2' }, 200],
    ['admin sets role', w.admin, 'PUT', `${m}/members/${w.viewer.id}`, { role: 'editor' }, 200],
  ];
  for (const [name, who, method, path, json, status] of rows) {
    const res = await who.call(method, path, json === undefined ? {} : { json });
    t.is(res.status, status, `${name}: ${JSON.stringify(res.body)}`);
    if (status >= 400) t.is(res.headers.get('content-type'), 'application/problem+json', name);
    if (status === 404) t.false(JSON.stringify(res.body).includes('Bridge'), `${name} leaks nothing`);
  }
  const denied = server.services.audit.recent(new Date(0)).filter((e) => e.outcome === 'denied' && e.target?.type === 'model');
  t.true(denied.length >= 10, 'denied attempts are audited');
});

test('a model: share, get, list with role and head, rename, members', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const got = await w.viewer.call('GET', `/api/v1/models/${w.modelId}`);
  t.like(got.body, { id: w.modelId, name: 'Bridge B-12', description: 'Main span', role: 'viewer', head: 0, latest_baseline: null, owner_id: w.owner.id });
  const list = await w.editor.call('GET', '/api/v1/models');
  t.deepEqual((list.body['models'] as Record<string, unknown>[]).map((m) => [m['id'], m['role']]), [[w.modelId, 'editor']]);
  t.deepEqual((await w.outsider.call('GET', '/api/v1/models')).body['models'], []);
  const members = (await w.viewer.call('GET', `/api/v1/models/${w.modelId}/members`)).body['members'] as Record<string, unknown>[];
  t.deepEqual(members.map((m) => [m['display_name'], m['role']]).sort(), [['Adam', 'admin'], ['Eddie', 'editor'], ['Olive', 'owner'], ['Vera', 'viewer']]);
  t.false(JSON.stringify(members).includes('@'), 'members see display names, not addresses');
});

test('leaving, removal, transfer, delete and restore', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  t.is((await w.viewer.call('DELETE', `${m}/members/${w.viewer.id}`)).status, 204);
  t.is((await w.viewer.call('GET', m)).status, 404);
  t.is((await w.admin.call('DELETE', `${m}/members/${w.editor.id}`)).status, 204);
  t.is((await w.editor.call('GET', m)).status, 404);

  const transferred = await w.owner.call('POST', `${m}/owner`, { json: { user_id: w.admin.id } });
  t.is(transferred.status, 200);
  t.like(transferred.body, { owner_id: w.admin.id, role: 'admin' });
  t.is((await w.owner.call('DELETE', m)).status, 403);
  t.is((await w.admin.call('DELETE', m)).status, 204);
  t.is((await w.owner.call('GET', m)).status, 404);
  t.deepEqual((await w.admin.call('GET', '/api/v1/models')).body['models'], []);
  t.is((await w.owner.call('POST', `${m}/restore`)).status, 403, 'a member who is not the owner may not restore');
  const restored = await w.admin.call('POST', `${m}/restore`);
  t.is(restored.status, 200);
  t.is((await w.owner.call('GET', m)).status, 200);
  const actions = server.services.audit.recent(new Date(0)).map((e) => `${e.action}:${e.outcome}`);
  for (const a of ['model.create:allowed', 'model.transfer:allowed', 'model.delete:allowed', 'model.delete:denied', 'model.restore:allowed', 'model.member_remove:allowed']) t.true(actions.includes(a), a);
});

test('invitations: roles no higher than the inviter\'s, caps, revoke, decline, and unverified invitees', async (t) => {
  const server = await startServer(t, { MODELSHARE_INVITATIONS_MAX_PENDING_PER_INVITEE: '2', MODELSHARE_INVITATIONS_MAX_SENT_PER_HOUR: '5' });
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const editorAsAdmin = await w.admin.call('POST', `${m}/invitations`, { json: { email: 'new@firm.example', role: 'admin' } });
  t.is(editorAsAdmin.status, 201);
  const capped = person(server, 'Cap');
  t.is((await w.owner.call('POST', `${m}/invitations`, { json: { email: capped.email, role: 'viewer' } })).status, 201);
  t.is((await w.owner.call('POST', `${m}/invitations`, { json: { email: capped.email, role: 'viewer' } })).status, 201);
  const third = await w.owner.call('POST', `${m}/invitations`, { json: { email: capped.email, role: 'viewer' } });
  t.is(third.status, 429);
  t.is(third.body['limit'], 'invitations.max_pending_per_invitee');
  const mine = await capped.call('GET', '/api/v1/invitations');
  const ids = (mine.body['invitations'] as Record<string, unknown>[]).filter((i) => i['kind'] === 'model').map((i) => String(i['id']));
  t.is(ids.length, 2);
  t.is((await capped.call('POST', `/api/v1/invitations/${ids[0]}/decline`)).status, 200);
  t.is((await w.outsider.call('POST', `/api/v1/invitations/${ids[1]}/accept`)).status, 404, 'someone else\'s invitation');
  t.is((await w.owner.call('DELETE', `${m}/invitations/${ids[1]}`)).status, 204);
  t.is((await capped.call('POST', `/api/v1/invitations/${ids[1]}/accept`)).status, 404, 'revoked');

  const unverified = person(server, 'Una', { verified: false });
  const inv = await w.owner.call('POST', `${m}/invitations`, { json: { email: unverified.email, role: 'viewer' } });
  t.is(inv.status, 201);
  const unverifiedAccept = await unverified.call('POST', `/api/v1/invitations/${inv.body['id']}/accept`);
  t.is(unverifiedAccept.status, 403);
  t.is(unverifiedAccept.body['code'], 'email_unverified');
  t.is((await unverified.call('GET', m)).status, 404);
  t.is((await unverified.call('POST', '/api/v1/models', { json: { name: 'Mine' } })).status, 403);

  for (let i = 0; i < 2; i++) await w.owner.call('POST', `${m}/invitations`, { json: { email: `x${i}@firm.example`, role: 'viewer' } });
  const overHour = await w.owner.call('POST', `${m}/invitations`, { json: { email: 'y@firm.example', role: 'viewer' } });
  t.is(overHour.status, 429);
  t.is(overHour.body['limit'], 'invitations.max_sent_per_hour');
});

test('export shows a person\'s models; erase removes their invitations and memberships and keeps their packets as a former member\'s', async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const m = `/api/v1/models/${w.modelId}`;
  const packet = Buffer.from('by Eddie');
  t.is((await w.editor.call('POST', `${m}/packets?base=0`, { raw: packet, headers: { 'content-digest': `sha-256=:${(await import('node:crypto')).createHash('sha256').update(packet).digest('base64')}:` } })).status, 201);
  await w.owner.call('POST', `${m}/invitations`, { json: { email: w.editor.email, role: 'admin' } });
  const exported = await w.editor.call('GET', '/api/v1/me/export');
  t.like(exported.body['models'], { packets_written: 1 });
  t.deepEqual((exported.body['models'] as { memberships: { model_id: string; role: string }[] }).memberships.map((x) => [x.model_id, x.role]), [[w.modelId, 'editor']]);
  t.is((exported.body['models'] as { invitations_received: unknown[] }).invitations_received.length, 2);

  const { token } = server.services.identity.breakGlass('it@firm.example');
  const erased = await apiCall(server, token)('POST', `/api/v1/admin/people/${w.editor.id}/erase`);
  t.is(erased.status, 200, JSON.stringify(erased.body));
  const members = (await w.owner.call('GET', `${m}/members`)).body['members'] as Record<string, unknown>[];
  t.false(members.some((x) => x['user_id'] === w.editor.id));
  const packets = (await w.owner.call('GET', `${m}/packets`)).body['packets'] as Record<string, unknown>[];
  t.is(packets[0]!['author'], w.editor.id);
  t.is(server.services.identity.publicPerson(w.editor.id).display_name, 'former member');
  t.is((server.stores.db.prepare('SELECT count(*) AS n FROM model_invitations WHERE model_id = ?').get(w.modelId) as { n: number }).n, 2, 'only the other people\'s invitations are left');
});
