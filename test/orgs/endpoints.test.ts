/**
 * Who may call each organization endpoint: every admin endpoint refuses anonymous callers, members,
 * partners and admins of another organization (refusal rows first), then does its work for the
 * organization's admin and for a server admin.
 */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';

test('every organization and admin endpoint refuses who may not use it, and serves who may', async (t) => {
  const world = await orgWorld(t);
  const { call, firm } = world;
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  // Carla becomes a partner of Firm through an invitation.
  const invited = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: people.carla.email });
  t.is(invited.status, 201);
  const carla = await world.login(people.carla);
  t.is((await call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, carla.token)).status, 200);

  const orgAdminCalls: [string, string, unknown?][] = [
    ['PATCH', `/api/v1/organizations/${firm}`, { sharing_enabled: true }],
    ['GET', `/api/v1/organizations/${firm}/seats`],
    ['GET', `/api/v1/organizations/${firm}/members`],
    ['PATCH', `/api/v1/organizations/${firm}/members/${bob.id}`, { sharing_enabled: true }],
    ['DELETE', `/api/v1/organizations/${firm}/members/${bob.id}`],
    ['GET', `/api/v1/organizations/${firm}/blocked`],
    ['POST', `/api/v1/organizations/${firm}/blocked`, { kind: 'domain', value: 'spam.example' }],
    ['DELETE', `/api/v1/organizations/${firm}/blocked/blk_000000000000000000000000`],
    ['GET', `/api/v1/organizations/${firm}/invitations`],
    ['POST', `/api/v1/organizations/${firm}/invitations`, { email: 'dan@out.example' }],
    ['DELETE', `/api/v1/organizations/${firm}/invitations/inv_000000000000000000000000`],
  ];
  const serverAdminCalls: [string, string, unknown?][] = [
    ['GET', '/api/v1/admin/organizations'],
    ['POST', '/api/v1/admin/organizations', { name: 'New Co', domains: ['new.example'], seats: 2 }],
    ['PATCH', `/api/v1/admin/organizations/${world.rival}`, { seats: 3 }],
    ['POST', `/api/v1/admin/people/${bob.id}/erase`],
  ];
  const refusals: [string, string | undefined, number, string][] = [
    ['anonymous', undefined, 401, 'unauthorized'],
    ['admin of another organization', rita.token, 404, 'not_found'],
    ['member', bob.token, 403, 'forbidden'],
    ['partner', carla.token, 403, 'forbidden'],
  ];
  for (const [method, path, body] of orgAdminCalls) {
    for (const [who, token, status, code] of refusals) {
      const res = await call(method, path, token, body);
      t.is(res.status, status, `${who}: ${method} ${path}`);
      t.is(res.body['code'], code, `${who}: ${method} ${path}`);
    }
  }
  for (const [method, path, body] of serverAdminCalls) {
    for (const [who, token, status] of [...refusals.slice(0, 1), ['organization admin', ada.token, 403], ['member', bob.token, 403], ['admin of another organization', rita.token, 403]] as const) {
      t.is((await call(method, path, token, body)).status, status, `${who}: ${method} ${path}`);
    }
  }
  // The organization itself: members see it, outsiders learn nothing, an unknown id looks the same.
  t.is((await call('GET', `/api/v1/organizations/${firm}`, rita.token)).status, 404);
  t.is((await call('GET', '/api/v1/organizations/org_000000000000000000000000', ada.token)).status, 404);
  t.deepEqual((await call('GET', `/api/v1/organizations/${firm}`, carla.token)).body, { id: firm, name: 'Firm Engineering', role: 'partner' });
  t.deepEqual((await call('GET', `/api/v1/organizations/${firm}`, bob.token)).body, { id: firm, name: 'Firm Engineering', role: 'member' });
  t.like((await call('GET', `/api/v1/organizations/${firm}`, ada.token)).body, { role: 'admin', sharing_enabled: true, seats: { seats: 10, used: 3, available: 7 } });

  // What the organization's admin and a server admin may do, they can.
  const allowed: [string, string, string, unknown, number][] = [
    ['admin', 'PATCH', `/api/v1/organizations/${firm}`, { sharing_enabled: true }, 200],
    ['admin', 'GET', `/api/v1/organizations/${firm}/seats`, undefined, 200],
    ['admin', 'GET', `/api/v1/organizations/${firm}/members`, undefined, 200],
    ['admin', 'PATCH', `/api/v1/organizations/${firm}/members/${bob.id}`, { sharing_enabled: true }, 200],
    ['admin', 'GET', `/api/v1/organizations/${firm}/blocked`, undefined, 200],
    ['admin', 'POST', `/api/v1/organizations/${firm}/blocked`, { kind: 'domain', value: 'spam.example' }, 201],
    ['admin', 'GET', `/api/v1/organizations/${firm}/invitations`, undefined, 200],
    ['admin', 'POST', `/api/v1/organizations/${firm}/invitations`, { email: 'dan@out.example' }, 201],
    ['server admin', 'GET', `/api/v1/organizations/${firm}/members`, undefined, 200],
    ['server admin', 'GET', '/api/v1/admin/organizations', undefined, 200],
    ['server admin', 'POST', '/api/v1/admin/organizations', { name: 'New Co', domains: ['new.example'], seats: 2 }, 201],
    ['server admin', 'PATCH', `/api/v1/admin/organizations/${firm}`, { seats: 3 }, 409],
    ['admin', 'DELETE', `/api/v1/organizations/${firm}/members/${bob.id}`, undefined, 204],
  ];
  for (const [who, method, path, body, status] of allowed) {
    const res = await call(method, path, who === 'admin' ? ada.token : root.token, body);
    t.is(res.status, status, `${who}: ${method} ${path}: ${JSON.stringify(res.body)}`);
  }
  const made = (await call('GET', '/api/v1/admin/organizations', root.token)).body['organizations'] as Record<string, unknown>[];
  const rows = made.map((o) => [o['name'], o['declared_in_config'], o['seats_used']]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  t.deepEqual(rows, [['Firm Engineering', true, 2], ['New Co', false, 0], ['Rival Structures', true, 1]]);
  const newCo = String(made.find((o) => o['name'] === 'New Co')!['id']);
  t.like((await call('PATCH', `/api/v1/admin/organizations/${newCo}`, root.token, { name: 'Newer Co', seats: 5 })).body, { name: 'Newer Co', seats: 5, domains: ['new.example'] });
  // Bad input changes nothing.
  t.is((await call('POST', '/api/v1/admin/organizations', root.token, { name: '', seats: -1 })).status, 400);
  t.is((await call('POST', `/api/v1/organizations/${firm}/blocked`, ada.token, { kind: 'domain', value: 'not a domain' })).status, 400);
  // An admin does not demote or remove themselves (an organization must keep an admin).
  t.like((await call('PATCH', `/api/v1/organizations/${firm}/members/${ada.id}`, ada.token, { role: 'member' })).body, { code: 'forbidden' });
  t.like((await call('DELETE', `/api/v1/organizations/${firm}/members/${ada.id}`, ada.token)).body, { code: 'forbidden' });

  const actions = world.server.services.audit.recent(new Date(0), 1000);
  for (const a of ['org.create:allowed', 'org.update:allowed', 'org.update:denied', 'org.block:allowed', 'org.invite:allowed', 'org.member_remove:allowed', 'org.member_remove:denied', 'org.member_role:denied', 'org.member_join:allowed', 'org.sharing_enable:allowed']) {
    t.true(actions.some((e) => `${e.action}:${e.outcome}` === a), a);
  }
  const removal = actions.find((e) => e.action === 'org.member_remove' && e.outcome === 'allowed')!;
  t.like(removal, { actor_email: people.ada.email, target: { type: 'person', id: bob.id }, details: { target_email: people.bob.email } });
  t.is((await call('POST', `/api/v1/admin/people/${bob.id}/erase`, root.token)).status, 200);
});
