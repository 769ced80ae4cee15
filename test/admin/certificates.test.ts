/** `GET /api/v1/admin/certificates`: what `modelshare certs show` prints, for server admins only. */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';

test('server admins see the TLS mode, the internal CA and the served certificate; nobody else does', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const root = await world.login(people.root);

  // Refusal first: an organization admin is no server admin.
  t.is((await world.call('GET', '/api/v1/admin/certificates', ada.token)).status, 403);

  const res = await world.call('GET', '/api/v1/admin/certificates', root.token);
  t.is(res.status, 200);
  const status = world.server.tls!.status();
  t.is(res.body['mode'], 'managed');
  t.like(res.body['certificate_authority'], { fingerprint: world.server.tls!.authority!.fingerprint, download: '/ca.pem' });
  t.deepEqual(res.body['certificate'], { names: status.names, serial: status.serial, not_after: status.not_after, days_left: status.days_left, renew_at: status.renew_at, warning: null });
  t.is(res.body['pending_request'], null);
  t.false(JSON.stringify(res.body).includes('PRIVATE KEY'));
});
