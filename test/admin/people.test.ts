/**
 * The admin API over people: only server admins get in; lists search sealed addresses and names
 * and say why someone is a server admin; sign-out everywhere and the server-wide block cut off
 * every session and token at once, and a blocked person cannot sign in again until unblocked.
 */
import test from 'ava';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';
import { deviceLogin, signIn, tokenCall } from '../helpers/sign-in.ts';

type Row = Record<string, unknown>;
const carla = { ...people.carla, groups: [] as string[] };

async function everyone(world: OrgWorld, token: string, query: string, limit: number): Promise<Row[]> {
  const rows: Row[] = [];
  let next: string | null = null;
  do {
    const res = await world.call('GET', `/api/v1/admin/people?${query}&limit=${limit}${next ? `&next=${next}` : ''}`, token);
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    rows.push(...(res.body['people'] as Row[]));
    next = res.body['next'] as string | null;
  } while (next);
  return rows;
}

test('people: only server admins list them; search by address or name; who is a server admin and why', async (t) => {
  const world = await orgWorld(t, { MODELSHARE_AUTH_ADMINS: 'carla@partner.example' });
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  await world.login(carla);
  await world.login(people.rita);
  const glass = world.server.services.identity.breakGlass('it@ops.example');

  // Refusals first: an organization admin and a member are no server admins.
  t.is((await world.call('GET', '/api/v1/admin/people', ada.token)).status, 403);
  t.is((await world.call('GET', `/api/v1/admin/people/${bob.id}`, bob.token)).status, 403);

  const all = await everyone(world, root.token, 'sort=name', 2);
  t.deepEqual(all.map((p) => p['email']), ['ada@firm.example', 'bob@firm.example', 'carla@partner.example', 'it@ops.example', 'rita@rival.example', 'root@ops.example']);
  const reasons = Object.fromEntries(all.map((p) => [p['email'], p['server_admin_reasons']]));
  t.deepEqual(reasons['root@ops.example'], ['provider_group']);
  t.deepEqual(reasons['carla@partner.example'], ['config']);
  t.deepEqual(reasons['it@ops.example'], ['break_glass']);
  t.deepEqual(reasons['bob@firm.example'], []);
  const admins = await everyone(world, root.token, 'server_admin=true&sort=created&order=asc', 50);
  t.deepEqual(admins.map((p) => p['email']).sort(), ['carla@partner.example', 'it@ops.example', 'root@ops.example']);
  t.is(glass.person.email, 'it@ops.example');

  const search = async (q: string) => (await everyone(world, root.token, `q=${encodeURIComponent(q)}`, 50)).map((p) => p['email']);
  t.deepEqual(await search(' BOB@Firm.example '), ['bob@firm.example'], 'an exact address, by its blind index');
  t.deepEqual(await search('bob@firm.exampl'), [], 'an address is matched exactly, not by prefix');
  t.deepEqual(await search('LOVE'), ['ada@firm.example'], 'part of a name');
  t.deepEqual(await search('rival'), ['rita@rival.example'], 'part of an address');

  const detail = await world.call('GET', `/api/v1/admin/people/${ada.id}`, root.token);
  t.is(detail.status, 200);
  t.deepEqual((detail.body['organizations'] as Row[]).map((o) => [o['id'], o['role']]), [[world.firm, 'admin']]);
  t.true((detail.body['tokens'] as Row[]).some((tk) => tk['kind'] === 'access' && tk['live'] === true));
  t.true((detail.body['sessions'] as Row[]).length >= 1);
  t.false(JSON.stringify(detail.body).includes('msa_'), 'never a token secret');

  for (const name of ['Alpha', 'Beta', 'Gamma']) t.is((await world.call('POST', '/api/v1/models', bob.token, { name })).status, 201);
  const first = await world.call('GET', `/api/v1/admin/people/${bob.id}/models?limit=2`, root.token);
  const second = await world.call('GET', `/api/v1/admin/people/${bob.id}/models?limit=2&next=${first.body['next']}`, root.token);
  t.deepEqual([...(first.body['models'] as Row[]), ...(second.body['models'] as Row[])].map((m) => m['name']).sort(), ['Alpha', 'Beta', 'Gamma']);
  t.true((first.body['models'] as Row[]).every((m) => m['role'] === 'owner'));
  t.is(second.body['next'], null);
});

test('sign-out everywhere cuts off every session, desktop login and token at once', async (t) => {
  const world = await orgWorld(t);
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const desktop = await deviceLogin(world, people.bob);
  const pat = String((await world.call('POST', '/api/v1/me/tokens', desktop.access_token, { name: 'script', scopes: ['read'] })).body['token']);
  const bobId = String((await world.call('GET', '/api/v1/me', pat)).body['id']);
  await signIn(world, people.bob);
  t.is((await world.call('GET', '/api/v1/me', desktop.access_token)).status, 200);

  // Refusal first: an organization admin may not sign people out server-wide.
  t.is((await world.call('POST', `/api/v1/admin/people/${bobId}/sign-out`, ada.token)).status, 403);
  t.is((await world.call('GET', '/api/v1/me', pat)).status, 200);

  const done = await world.call('POST', `/api/v1/admin/people/${bobId}/sign-out`, root.token);
  t.is(done.status, 200, JSON.stringify(done.body));
  t.true(((done.body['ended'] as Row)['sessions'] as number) >= 2);
  t.is((await world.call('GET', '/api/v1/me', desktop.access_token)).status, 401, 'the desktop access token, at once');
  t.is((await world.call('GET', '/api/v1/me', pat)).status, 401, 'the personal access token, at once');
  t.is((await tokenCall(world, { grant_type: 'refresh_token', refresh_token: desktop.refresh_token })).status, 400, 'the refresh token');
  t.is(world.server.stores.db.prepare('SELECT count(*) AS n FROM sessions WHERE person_id = ?').pluck().get(bobId), 0);
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'person.sign_out_everywhere' && e.actor_id === root.id && e.target?.id === bobId));
  // Signing in again works: this is no block.
  t.is((await world.call('GET', '/api/v1/me', (await world.login(people.bob)).token)).status, 200);
});

test('a server-wide block refuses sign-in and every token until lifted', async (t) => {
  const world = await orgWorld(t);
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);

  // Refusals first: an organization admin may not block anyone server-wide, nor may one block oneself.
  t.is((await world.call('POST', `/api/v1/admin/people/${bob.id}/block`, ada.token)).status, 403);
  t.is((await world.call('GET', '/api/v1/me', bob.token)).status, 200);
  t.is((await world.call('POST', `/api/v1/admin/people/${root.id}/block`, root.token)).status, 409);

  const blocked = await world.call('POST', `/api/v1/admin/people/${bob.id}/block`, root.token);
  t.is(blocked.status, 200, JSON.stringify(blocked.body));
  t.true(blocked.body['blocked'] as boolean);
  t.is((await world.call('GET', '/api/v1/me', bob.token)).status, 401);
  await t.throwsAsync(signIn(world, people.bob), { message: /sign-in failed \(401\)/ });
  // A token issued behind the block's back (straight in the store) is refused too: the flag is checked on every request.
  const sneaked = world.server.services.identity.tokens.createPersonal(bob.id, 'sneaked', ['read'], 3_600_000).token;
  t.is((await world.call('GET', '/api/v1/me', sneaked)).status, 401);
  const listed = await world.call('GET', '/api/v1/admin/people?blocked=true', root.token);
  t.deepEqual((listed.body['people'] as Row[]).map((p) => p['id']), [bob.id]);
  const log = world.server.services.audit.recent(new Date(0));
  t.true(log.some((e) => e.action === 'person.block' && e.outcome === 'allowed' && e.target?.id === bob.id));
  t.true(log.some((e) => e.action === 'auth.sign_in' && e.outcome === 'denied' && e.reason === 'person_blocked' && e.actor_id === bob.id));

  const lifted = await world.call('DELETE', `/api/v1/admin/people/${bob.id}/block`, root.token);
  t.is(lifted.status, 200);
  t.false(lifted.body['blocked'] as boolean);
  t.is((await world.call('GET', '/api/v1/me', sneaked)).status, 200, 'the flag, not only the revocations, was what refused it');
  t.is((await world.call('GET', '/api/v1/me', (await world.login(people.bob)).token)).status, 200);
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'person.unblock' && e.target?.id === bob.id));
});
