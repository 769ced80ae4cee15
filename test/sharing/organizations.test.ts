/**
 * Sharing under the organization's rules: switches take effect at once (open event streams too),
 * organization admins act on their models without being members, outsiders of the organization
 * learn nothing, and an invited outsider joins as a partner.
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { orgWorld, people } from '../helpers/orgs.ts';
import { digestHeader } from '../helpers/people.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp-sink.ts';
import { events, openSse } from '../helpers/sse.ts';

test('switching sharing off for a member stops their write-outs and ends their open streams at once', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const created = await world.call('POST', '/api/v1/models', ada.token, { name: 'Tower T1' });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.body['organization_id'], world.firm);
  const modelId = String(created.body['id']);
  const invited = await world.call('POST', `/api/v1/models/${modelId}/invitations`, ada.token, { email: people.bob.email, role: 'editor' });
  t.is((await world.call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, bob.token)).status, 200);

  const all = await openSse(world.server, '/api/v1/events', bob.token);
  const one = await openSse(world.server, `/api/v1/models/${modelId}/events`, bob.token);
  t.teardown(() => [all, one].forEach((r) => r.close()));
  const packet = Buffer.from('column moved');
  const write = (base: number) =>
    world.server.fetch(`${world.server.url}/api/v1/models/${modelId}/packets?base=${base}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/octet-stream', 'content-digest': digestHeader(packet) },
      body: packet,
    });
  t.is((await write(0)).status, 201);
  await eventually(() => events(one).some((f) => f.event === 'packet'), 'the packet event');

  const off = await world.call('PATCH', `/api/v1/organizations/${world.firm}/members/${bob.id}`, ada.token, { sharing_enabled: false });
  t.is(off.status, 200, JSON.stringify(off.body));
  const refused = await write(1);
  t.is(refused.status, 403);
  t.like(await refused.json(), { code: 'sharing_disabled' });
  t.like((await world.call('GET', `/api/v1/models/${modelId}`, bob.token)).body, { code: 'sharing_disabled' });
  await eventually(() => one.ended && all.ended, 'both streams to end');
  t.like(JSON.parse(one.frames.find((f) => f.event === 'error')!.data!), { code: 'sharing_disabled' });
  t.like(JSON.parse(all.frames.find((f) => f.event === 'error')!.data!), { code: 'sharing_disabled' });
  t.is((await world.call('GET', '/api/v1/me', bob.token)).status, 200, 'the token still signs Bob in');
});

test('organization admins act on their models without being members; other organizations learn nothing', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  const created = await world.call('POST', '/api/v1/models', bob.token, { name: "Bob's frame" });
  const modelId = String(created.body['id']);
  const m = `/api/v1/models/${modelId}`;
  const rows: [string, string, string, string, unknown, number][] = [
    ['other org admin get', rita.token, 'GET', m, undefined, 404],
    ['other org admin delete', rita.token, 'DELETE', m, undefined, 404],
    ['other org admin transfer', rita.token, 'POST', `${m}/owner`, { user_id: rita.id }, 404],
    ['org admin reads packets', ada.token, 'GET', `${m}/packets`, undefined, 403],
    ['org admin writes out', ada.token, 'POST', `${m}/packets?base=0`, undefined, 403],
    ['org admin renames', ada.token, 'PATCH', m, { name: 'x' }, 403],
    ['org admin gets', ada.token, 'GET', m, undefined, 200],
    ['org admin members', ada.token, 'GET', `${m}/members`, undefined, 200],
    ['org admin re-owns', ada.token, 'POST', `${m}/owner`, { user_id: ada.id }, 200],
    ['org admin deletes', ada.token, 'DELETE', m, undefined, 204],
    ['owner-turned-admin cannot restore', bob.token, 'POST', `${m}/restore`, undefined, 403],
    ['org admin restores', ada.token, 'POST', `${m}/restore`, undefined, 200],
  ];
  for (const [name, token, method, path, body, status] of rows) {
    t.is((await world.call(method, path, token, body)).status, status, name);
  }
  t.like((await world.call('GET', m, bob.token)).body, { owner_id: ada.id, role: 'admin' });
});

test('an outsider invited to an organization\'s model joins it as a partner and shares', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const carla = await world.login(people.carla);
  const created = await world.call('POST', '/api/v1/models', ada.token, { name: 'Shared with a partner' });
  const modelId = String(created.body['id']);
  const invited = await world.call('POST', `/api/v1/models/${modelId}/invitations`, ada.token, { email: people.carla.email, role: 'viewer' });
  const mine = await world.call('GET', '/api/v1/invitations', carla.token);
  t.true((mine.body['invitations'] as Record<string, unknown>[]).some((i) => i['id'] === invited.body['id'] && i['kind'] === 'model'));
  const accepted = await world.call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, carla.token);
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
  t.like((await world.call('GET', `/api/v1/models/${modelId}`, carla.token)).body, { role: 'viewer' });
  const me = await world.call('GET', '/api/v1/me', carla.token);
  t.true((me.body['organizations'] as Record<string, unknown>[]).some((o) => o['id'] === world.firm && o['role'] === 'partner'));
});

test('a model invitation is mailed through the relay when SMTP is set', async (t) => {
  const sink = await startSmtpSink(t);
  const world = await orgWorld(t, smtpEnv(sink));
  const ada = await world.login(people.ada);
  const created = await world.call('POST', '/api/v1/models', ada.token, { name: 'Mailed model' });
  const invited = await world.call('POST', `/api/v1/models/${created.body['id']}/invitations`, ada.token, { email: people.bob.email, role: 'editor' });
  t.is(invited.status, 201);
  await eventually(() => sink.messages.length === 1, 'the invitation mail');
  const mail = sink.messages[0]!;
  t.deepEqual([mail.to, mail.secure], [[people.bob.email], true]);
  t.regex(mail.raw.replaceAll('=\r\n', ''), /Subject: Ada Lovelace invites you to the model Mailed model on Modelshare/);
  await eventually(() => world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'model.invitation_mail' && e.outcome === 'allowed'), 'the audit record');
});
