/**
 * The e-mail digest of notices to organization admins (issue 22), through the real SMTP sink: it goes
 * out only when a notice is new, to the organization's admins only, names what is new, and is audited.
 */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';
import { startSmtpSink, smtpEnv } from '../helpers/smtp-sink.ts';

/** The message's text with quoted-printable soft breaks and escapes undone. */
const text = (raw: string) => raw.replaceAll('=\r\n', '').replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));

test('a digest goes to the organization admins only when a notice is new, and is audited', async (t) => {
  t.timeout(180_000);
  const sink = await startSmtpSink(t);
  const world = await orgWorld(t, smtpEnv(sink));
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  await world.login(people.rita);
  const job = world.server.jobs.find('notice-digest')!;
  t.is(job.schedule, 'off', 'off unless scheduled');
  const run = async () => {
    const report = await world.server.jobs.runner.run(job, 'command');
    t.is(report.outcome, 'ok', JSON.stringify(report));
    return report;
  };

  await run();
  t.is(sink.messages.length, 0, 'nothing to tell');
  const created = await world.call('POST', '/api/v1/models', bob.token, { name: 'Tower T3' });
  const modelId = String(created.body['id']);
  t.is((await world.call('PUT', `/api/v1/models/${modelId}/lock`, ada.token, { reason: 'load check' })).status, 200);

  await run();
  t.is(sink.messages.length, 1);
  const first = sink.messages[0]!;
  t.deepEqual(first.to, ['ada@firm.example'], 'the admins of the organization, nobody else');
  t.regex(first.raw, /Subject: Modelshare: 1 new notice\(s\) for Firm Engineering/);
  t.regex(text(first.raw), /\* NEW Locked: Tower T3: load check/);
  t.regex(text(first.raw), /https:\/\/modelshare\.test\/console\/organizations\/[^/\s]+\/notices/);

  await run();
  t.is(sink.messages.length, 1, 'nothing new, no mail');

  await world.signInAgain({ ...people.bob, email: 'bob@elsewhere.example' });
  await run();
  t.is(sink.messages.length, 2);
  const second = text(sink.messages[1]!.raw);
  t.regex(second, /\* NEW Left the organization: Bob Builder .*Models they own: Tower T3\./);
  t.regex(second, /\* NEW Owner gone: Tower T3/);
  t.regex(second, /\n\* Locked: Tower T3: load check/, 'what was sent before is listed, not new');
  const audited = world.server.stores.db.prepare("SELECT outcome FROM audit_events WHERE action = 'notices.digest' ORDER BY seq").all() as { outcome: string }[];
  t.is(audited.length, 2);
  t.true(audited.every((a) => a.outcome === 'allowed'));
});
