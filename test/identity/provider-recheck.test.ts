/**
 * A desktop token refresh asks the sign-in provider again (issue 22): the real test provider issues
 * refresh tokens, and once `auth.provider_recheck` has passed, our refresh presents the person's
 * provider refresh token. A person removed at the provider is refused, loses every login and the
 * memberships the claims gave, and shows up in the admin notices with the models they own; a person
 * whose claims changed follows them; a provider that cannot be reached stops nobody.
 */
import fs from 'node:fs';
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';
import { deviceLogin, me, tokenCall } from '../helpers/sign-in.ts';

const dave = { sub: 'dave', email: 'dave@firm.example', email_verified: true, name: 'Dave Draughtsman' };
const hour = 3600_000;

test('a person removed at the provider is refused at the next token refresh and shows up in the notices with their models', async (t) => {
  t.timeout(180_000);
  const world = await orgWorld(t);
  world.op.offline = true;
  const bob = await deviceLogin(world, people.bob);
  const dv = await deviceLogin(world, dave);
  const daveId = String((await me(world, dv.access_token)).body['id']);
  const bobId = String((await me(world, bob.access_token)).body['id']);
  const created = await world.call('POST', '/api/v1/models', dv.access_token, { name: 'Pier P1' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const orgs = world.server.services.orgs;
  // The admin signs in afresh for each look (the test clock runs past access token lifetimes).
  const notices = async () => ((await world.call('GET', `/api/v1/organizations/${world.firm}/notices`, (await world.login(people.ada)).token)).body['notices'] as Record<string, unknown>[]);
  const refresh = (token: string) => tokenCall(world, { grant_type: 'refresh_token', refresh_token: token });

  // Within auth.provider_recheck the provider is not asked: removing Dave there changes nothing yet.
  world.op.forget('dave');
  const early = await refresh(dv.refresh_token);
  t.is(early.status, 200, JSON.stringify(early.body));
  t.truthy(orgs.repo.membership(world.firm, daveId));

  // Past it, the provider is asked, refuses Dave's grant, and Dave is out: no token, no membership.
  world.clock.advance(2 * hour);
  const refused = await refresh(String(early.body['refresh_token']));
  t.like(refused, { status: 400, body: { error: 'invalid_grant', error_description: 'Your sign-in provider no longer vouches for you; sign in again' } });
  t.is(orgs.repo.membership(world.firm, daveId), undefined);
  t.is((await me(world, String(early.body['access_token']))).status, 401, 'every login of the person ends');
  const left = (await notices()).find((n) => n['kind'] === 'person_left');
  t.like(left, { person_id: daveId, reason: 'provider_stopped_vouching', models: [{ name: 'Pier P1' }] });
  t.like((await notices()).find((n) => n['kind'] === 'model_owner_gone'), { model: { name: 'Pier P1' }, owner: { person_id: daveId } });

  // Bob's provider still vouches, but no longer as an employee of Firm: his membership follows the claims.
  world.op.update({ ...people.bob, email: 'bob@elsewhere.example' });
  const moved = await refresh(bob.refresh_token);
  t.is(moved.status, 200, JSON.stringify(moved.body));
  t.is(orgs.repo.membership(world.firm, bobId), undefined);
  t.true((await notices()).some((n) => n['kind'] === 'person_left' && n['person_id'] === bobId));
  // Asked again only after the interval: the rotated provider token is kept and works next time.
  world.op.update(people.bob);
  const soon = await refresh(String(moved.body['refresh_token']));
  t.is(soon.status, 200);
  t.is(orgs.repo.membership(world.firm, bobId), undefined, 'not asked again within the interval');
  world.clock.advance(2 * hour);
  const back = await refresh(String(soon.body['refresh_token']));
  t.is(back.status, 200, JSON.stringify(back.body));
  t.truthy(orgs.repo.membership(world.firm, bobId), 'vouched as an employee again: back in');

  // A provider that cannot be reached stops nobody: the refresh goes on, and it is asked next time.
  await world.op.stop();
  world.clock.advance(2 * hour);
  const outage = await refresh(String(back.body['refresh_token']));
  t.is(outage.status, 200, JSON.stringify(outage.body));
  const audited = world.server.stores.db.prepare("SELECT outcome, reason FROM audit_events WHERE action = 'auth.provider_recheck' ORDER BY seq").all();
  t.deepEqual(audited, [{ outcome: 'denied', reason: 'provider_refused' }], 'the refusal is audited; routine answers are not');
  // The provider's refresh tokens are sealed: not in the database file or its write-ahead log as they are.
  const [grant] = world.server.services.identity.grants.of(bobId);
  t.truthy(grant?.refreshToken);
  const file = world.server.stores.db.name;
  const onDisk = Buffer.concat([fs.readFileSync(file), ...(fs.existsSync(`${file}-wal`) ? [fs.readFileSync(`${file}-wal`)] : [])]);
  t.false(onDisk.includes(grant!.refreshToken), 'the refresh token is not on disk as it is');
});
