/**
 * Invitations to an organization: delivered through a real SMTP relay on loopback (over STARTTLS,
 * with a password), shown at sign-in, accepted or declined only by their invitee, held to the caps of
 * PROTOCOL.md, and expiring.
 */
import test from 'ava';
import { formField } from '../helpers/browser.ts';
import { eventually } from '../helpers/eventually.ts';
import { orgWorld, people } from '../helpers/orgs.ts';
import { signIn } from '../helpers/sign-in.ts';
import { smtpEnv, startSmtpSink } from '../helpers/smtp-sink.ts';

const outsider = (name: string) => ({ sub: name, email: `${name}@out.example`, email_verified: true, name });

test('invitations: mailed, shown at sign-in, answered by their invitee only, capped and expiring', async (t) => {
  const sink = await startSmtpSink(t);
  const world = await orgWorld(t, { ...smtpEnv(sink), MODELSHARE_INVITATIONS_MAX_PENDING_PER_INVITEE: '1', MODELSHARE_INVITATIONS_MAX_SENT_PER_HOUR: '3' });
  const { call, firm, rival } = world;
  const ada = await world.login(people.ada);
  const rita = await world.login(people.rita);
  const bob = await world.login(people.bob);

  const sent = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'Carla@Partner.Example' });
  t.like(sent, { status: 201, body: { email: people.carla.email, role: 'partner', status: 'pending' } });
  await eventually(() => sink.messages.length === 1, 'the invitation mail');
  const mail = sink.messages[0]!;
  t.deepEqual([mail.from, mail.to, mail.secure], ['noreply@firm.example', [people.carla.email], true]);
  t.regex(mail.raw, /Subject: Ada Lovelace invites you to Firm Engineering on Modelshare/);
  // The body is quoted-printable: soft line breaks (=CRLF) join again.
  t.regex(mail.raw.replaceAll('=\r\n', ''), /Sign in at https:\/\/modelshare\.test\/ with this address \(carla@partner\.example\)/);

  // Refusals: a second pending invitation for Carla (cap 1, whatever organization), the same one twice.
  const capped = await call('POST', `/api/v1/organizations/${rival}/invitations`, rita.token, { email: people.carla.email });
  t.like(capped, { status: 429, body: { code: 'invitation_limit', limit: 'invitations.max_pending_per_invitee', max: 1 } });
  t.like((await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: people.carla.email })).body, { code: 'conflict' });
  t.like((await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: people.bob.email })).body, { code: 'conflict' });
  t.is((await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'not-an-address' })).status, 400);
  // Ada may send three an hour.
  const a = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'anna@out.example' });
  const b = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'ben@out.example' });
  t.deepEqual([a.status, b.status], [201, 201]);
  const hourly = await call('POST', `/api/v1/organizations/${firm}/invitations`, ada.token, { email: 'cyd@out.example' });
  t.like(hourly, { status: 429, body: { code: 'invitation_limit', limit: 'invitations.max_sent_per_hour', max: 3 } });
  t.is(hourly.headers.get('retry-after'), '3600');
  t.is((await call('DELETE', `/api/v1/organizations/${firm}/invitations/${b.body['id']}`, ada.token)).status, 204);
  t.deepEqual(((await call('GET', `/api/v1/organizations/${firm}/invitations`, ada.token)).body['invitations'] as { email: string }[]).map((i) => i.email).sort(), ['anna@out.example', people.carla.email]);

  // Carla signs in: the invitation is on her home page and in her list; nobody else can answer it.
  const { browser } = await signIn(world, people.carla);
  const home = await browser.request(`${world.server.url}/`);
  t.regex(home.body, /Ada Lovelace invites you to Firm Engineering as partner/);
  const carla = await world.login(people.carla);
  t.like((await call('GET', '/api/v1/me', carla.token)).body, { pending_invitations: 1, organizations: [] });
  const list = await call('GET', '/api/v1/invitations', carla.token);
  t.deepEqual(list.body, {
    invitations: [{ id: sent.body['id'], kind: 'organization', role: 'partner', organization: { id: firm, name: 'Firm Engineering' }, invited_by: { id: ada.id, display_name: 'Ada Lovelace' }, created_at: sent.body['created_at'], expires_at: sent.body['expires_at'] }],
    next: null,
  });
  t.is((await call('POST', `/api/v1/invitations/${sent.body['id']}/accept`, bob.token)).status, 404);
  t.is((await call('POST', `/api/v1/invitations/${sent.body['id']}/accept`, undefined)).status, 401);
  t.is((await call('POST', `/api/v1/invitations/${b.body['id']}/accept`, carla.token)).status, 404);
  // She accepts from the home page (a form with the session's CSRF token).
  const accepted = await browser.request(`${world.server.url}/invitations/${sent.body['id']}/accept`, { form: { _csrf: formField(home.body, '_csrf') } });
  t.is(accepted.status, 303);
  t.like((await call('GET', '/api/v1/me', carla.token)).body, { pending_invitations: 0, sharing_enabled: true, organizations: [{ id: firm, role: 'partner', sharing_enabled: true }] });
  t.is((await call('POST', `/api/v1/invitations/${sent.body['id']}/decline`, carla.token)).status, 404);

  // An hour later Ada may send again; an invitation left unanswered expires.
  world.clock.advance(61 * 60_000);
  const adaAgain = await world.login(people.ada);
  t.is((await call('POST', `/api/v1/organizations/${firm}/invitations`, adaAgain.token, { email: 'cyd@out.example' })).status, 201);
  const cyd = await world.login(outsider('cyd'));
  t.is(((await call('GET', '/api/v1/invitations', cyd.token)).body['invitations'] as unknown[]).length, 1);
  world.clock.advance(15 * 86_400_000);
  const anna = await world.login(outsider('anna'));
  const [adaLater, ritaLater] = [await world.login(people.ada), await world.login(people.rita)];
  t.deepEqual((await call('GET', '/api/v1/invitations', anna.token)).body, { invitations: [], next: null });
  t.is((await call('POST', `/api/v1/invitations/${a.body['id']}/accept`, anna.token)).status, 404);
  t.deepEqual((await call('GET', `/api/v1/organizations/${firm}/invitations`, adaLater.token)).body, { invitations: [] });
  // Now that it expired, Rita's invitation for the same address is within the cap.
  t.is((await call('POST', `/api/v1/organizations/${rival}/invitations`, ritaLater.token, { email: 'anna@out.example' })).status, 201);
  await eventually(() => sink.messages.length === 5, 'every invitation mail');

  // The retention job deletes invitations 30 days after they expired or were answered.
  world.clock.advance(31 * 86_400_000);
  t.like(await world.server.runJob('invitation-retention'), { ok: true });
  const left = world.server.stores.db.prepare('SELECT id FROM organization_invitations').all() as { id: string }[];
  t.false(left.some((r) => [a.body['id'], b.body['id'], sent.body['id']].includes(r.id)));
  const audit = world.server.services.audit.recent(new Date(0), 1000).map((e) => `${e.action}:${e.outcome}:${e.reason ?? ''}`);
  for (const x of ['org.invite:allowed:', 'org.invite:denied:invitations.max_pending_per_invitee', 'org.invite:denied:invitations.max_sent_per_hour', 'org.invite:denied:already_invited', 'org.invite:denied:already_member', 'org.invitation_revoke:allowed:', 'org.invitation_accept:allowed:', 'org.invitation_mail:allowed:']) {
    t.true(audit.includes(x), x);
  }
});
