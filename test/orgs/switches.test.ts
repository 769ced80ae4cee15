/**
 * Sharing switches, seats and blocked addresses take effect at once, for tokens already issued; a
 * lifted block or a switch turned back on asks for a fresh sign-in through the provider.
 */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';

const firmPerson = (name: string) => ({ sub: name, email: `${name}@firm.example`, email_verified: true, name });

test('switches and seats: effective at once, seats never exceeded under concurrent enables', async (t) => {
  const world = await orgWorld(t, {}, 3);
  const { call, firm, gate } = world;
  const changes: { personId: string | null; organizationId: string | null }[] = [];
  world.server.services.orgs.onAccessChanged((c) => changes.push(c));
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const others = [];
  for (const name of ['dave', 'erin', 'frank']) others.push(await world.login(firmPerson(name)));
  const sharing = async (token: string) => {
    const me = (await call('GET', '/api/v1/me', token)).body;
    const org = (me['organizations'] as Record<string, unknown>[]).find((o) => o['id'] === firm)!;
    return [me['sharing_enabled'], org['role'], org['sharing_enabled'], org['sharing_refusal']];
  };
  t.deepEqual(await sharing(ada.token), [true, 'admin', true, null]);
  t.deepEqual(await sharing(bob.token), [true, 'member', true, null]);
  // Seats 1 and 2 went to Ada and Bob, seat 3 to Dave; Erin and Frank joined without one.
  t.deepEqual(await sharing(others[1]!.token), [false, 'member', false, 'sharing_disabled']);
  t.like((await call('GET', `/api/v1/organizations/${firm}/seats`, ada.token)).body, { seats: 3, used: 3, available: 0 });
  t.is(gate(bob.id, firm), null);

  // Off for Bob: his token still signs him in, and every sharing call is refused at once.
  t.like((await call('PATCH', `/api/v1/organizations/${firm}/members/${bob.id}`, ada.token, { sharing_enabled: false })).body, { sharing_enabled: false });
  t.is(gate(bob.id, firm), 'sharing_disabled');
  t.is(gate(bob.id, null), 'sharing_disabled');
  t.deepEqual(await sharing(bob.token), [false, 'member', false, 'sharing_disabled']);
  t.deepEqual(changes.at(-1), { personId: bob.id, organizationId: firm });
  // Off for Dave too: two free seats, four people asking at once. Exactly two get one.
  await call('PATCH', `/api/v1/organizations/${firm}/members/${others[0]!.id}`, ada.token, { sharing_enabled: false });
  const asks = [bob, ...others].map((p) => call('PATCH', `/api/v1/organizations/${firm}/members/${p.id}`, ada.token, { sharing_enabled: true }));
  const answers = await Promise.all(asks);
  t.is(answers.filter((a) => a.status === 200).length, 2);
  const refused = answers.filter((a) => a.status === 409);
  t.is(refused.length, 2);
  for (const r of refused) t.like(r.body, { code: 'no_seats_left', seats: 3, used: 3 });
  t.is(world.server.services.orgs.repo.seatsUsed(firm), 3);

  // Back on for someone who was switched off: they sign in through the provider again first.
  const contenders = [bob, ...others];
  for (const [i, p] of contenders.entries()) {
    if (answers[i]!.status === 200) await call('PATCH', `/api/v1/organizations/${firm}/members/${p.id}`, ada.token, { sharing_enabled: false });
  }
  t.is((await call('PATCH', `/api/v1/organizations/${firm}/members/${bob.id}`, ada.token, { sharing_enabled: true })).status, 200);
  t.is(gate(bob.id, firm), 'reverification_required');
  await world.signInAgain(people.bob);
  t.is(gate(bob.id, firm), null);
  t.deepEqual(await sharing(bob.token), [true, 'member', true, null]);

  // The whole organization off and on again.
  t.is((await call('PATCH', `/api/v1/organizations/${firm}`, ada.token, { sharing_enabled: false })).status, 200);
  t.is(gate(ada.id, firm), 'sharing_disabled');
  t.deepEqual(changes.at(-1), { personId: null, organizationId: firm });
  t.is((await call('PATCH', `/api/v1/organizations/${firm}`, ada.token, { sharing_enabled: true })).status, 200);
  t.is(gate(ada.id, firm), 'reverification_required');
  await world.signInAgain(people.ada);
  t.is(gate(ada.id, firm), null);

  // An unverified address never shares; a person in no organization does not, now that organizations exist.
  const unverified = await world.login({ sub: 'unv', email: 'unv@firm.example', email_verified: false, name: 'Unverified' });
  t.is(gate(unverified.id, firm), 'email_unverified');
  t.deepEqual((await call('GET', '/api/v1/me', unverified.token)).body['organizations'], []);
  const loner = await world.login({ sub: 'loner', email: 'loner@nowhere.example', email_verified: true, name: 'Loner' });
  t.is(gate(loner.id, null), 'sharing_disabled');
  t.like((await call('GET', '/api/v1/me', loner.token)).body, { sharing_enabled: false, organizations: [] });
  const audit = world.server.services.audit.recent(new Date(0), 1000).map((e) => `${e.action}:${e.outcome}:${e.reason ?? ''}`);
  for (const a of ['org.member_sharing_disable:allowed:', 'org.member_sharing_enable:allowed:', 'org.member_sharing_enable:denied:no_seats_left', 'org.sharing_disable:allowed:', 'org.sharing_enable:allowed:']) t.true(audit.includes(a), a);
});

test('blocked addresses and domains: refused at once, at join and at invitation; lifting asks for a fresh sign-in', async (t) => {
  const world = await orgWorld(t);
  const { call, firm, gate } = world;
  const ada = await world.login(people.ada);
  const invited = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: people.carla.email });
  const carla = await world.login(people.carla);
  await call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, carla.token);
  t.is(gate(carla.id, firm), null);

  // A whole domain (and its subdomains), and one address of the firm's own domain.
  const domain = await call('POST', `/api/v1/organizations/${firm}/blocked`, ada.token, { kind: 'domain', value: '@Partner.Example' });
  t.like(domain, { status: 201, body: { kind: 'domain', value: 'partner.example' } });
  t.is(gate(carla.id, firm), 'blocked');
  t.like((await call('GET', '/api/v1/me', carla.token)).body, { sharing_enabled: false });
  t.is((await call('POST', `/api/v1/organizations/${firm}/blocked`, ada.token, { kind: 'domain', value: 'partner.example' })).status, 200);
  t.like((await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'x@eu.partner.example' })).body, { code: 'blocked' });
  await call('POST', `/api/v1/organizations/${firm}/blocked`, ada.token, { kind: 'address', value: 'Gus@Firm.Example' });
  const gus = await world.login({ sub: 'gus', email: 'gus@firm.example', email_verified: true, name: 'Gus' });
  t.deepEqual((await call('GET', '/api/v1/me', gus.token)).body['organizations'], [], 'a blocked address does not join');
  t.is(gate(gus.id, firm), 'blocked');
  // An invitation sent before the block cannot be accepted after it.
  const later = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'hal@elsewhere.example' });
  await call('POST', `/api/v1/organizations/${firm}/blocked`, ada.token, { kind: 'domain', value: 'elsewhere.example' });
  const hal = await world.login({ sub: 'hal', email: 'hal@elsewhere.example', email_verified: true, name: 'Hal' });
  t.like((await call('POST', `/api/v1/invitations/${later.body['id']}/accept`, hal.token)).body, { code: 'blocked' });

  const list = (await call('GET', `/api/v1/organizations/${firm}/blocked`, ada.token)).body['blocked'] as Record<string, unknown>[];
  t.deepEqual(list.map((b) => `${b['kind']}:${b['value']}`).sort(), ['address:gus@firm.example', 'domain:elsewhere.example', 'domain:partner.example']);

  // Lifted: Carla must sign in through the provider again (a fresh verification) before sharing.
  t.is((await call('DELETE', `/api/v1/organizations/${firm}/blocked/${domain.body['id']}`, ada.token)).status, 204);
  t.is((await call('DELETE', `/api/v1/organizations/${firm}/blocked/${domain.body['id']}`, ada.token)).status, 404);
  t.is(gate(carla.id, firm), 'reverification_required');
  t.like((await call('GET', '/api/v1/me', carla.token)).body, { organizations: [{ id: firm, sharing_enabled: false, sharing_refusal: 'reverification_required' }] });
  await world.signInAgain(people.carla);
  t.is(gate(carla.id, firm), null);
  const audit = world.server.services.audit.recent(new Date(0), 1000).map((e) => `${e.action}:${e.outcome}:${e.reason ?? ''}`);
  for (const a of ['org.block:allowed:', 'org.unblock:allowed:', 'org.member_join:denied:blocked', 'org.invite:denied:blocked', 'org.invitation_accept:denied:blocked']) t.true(audit.includes(a), a);
});
