import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ModelshareClient } from '../../src/client/client.ts';
import { watch, type ModelEvent } from '../../src/client/events.ts';
import { ClientStore } from '../../src/client/store.ts';
import { download, writeOut } from '../../src/client/transfer.ts';
import { clientLogin, clientUser, startRelay, type ClientUser } from '../helpers/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { signInWorld } from '../helpers/sign-in.ts';
import { tmpDir } from '../helpers/tmp.ts';

const olive = { sub: 'olive', email: 'olive@firm.example', email_verified: true, name: 'Olive Owner' };
const eddie = { sub: 'eddie', email: 'eddie@firm.example', email_verified: true, name: 'Eddie Editor' };
const vera = { sub: 'vera', email: 'vera@firm.example', email_verified: true, name: 'Vera Viewer' };

const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;

test('three people share, join, write out and read in a model with modelshare-client', async (t) => {
  t.timeout(8 * 60_000);
  // The device login's poll interval is kept by the server's clock: let it pass as real time does.
  const world = await signInWorld(t, { MODELSHARE_AUTH_DEVICE_POLL_INTERVAL: '1s' });
  const tick = setInterval(() => world.clock.advance(1000), 1000);
  t.teardown(() => clearInterval(tick));
  const url = world.server.url;
  const fingerprint = new crypto.X509Certificate(world.server.ca!).fingerprint256;
  const work = tmpDir(t, 'modelshare-e2e-');
  const file = (name: string, bytes: Buffer) => {
    const p = path.join(work, name);
    fs.writeFileSync(p, bytes);
    return p;
  };

  // First contact with a wrong fingerprint trusts nothing and stores nothing.
  const [owner, editor, viewer] = [clientUser(t), clientUser(t), clientUser(t)];
  const wrong = await owner.run(['login', '--server', url, '--fingerprint', 'AB:'.repeat(31) + 'AB']);
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /not the server you meant/);
  t.false(fs.existsSync(path.join(owner.home, 'client.json')));
  // Without a fingerprint and without a person at a terminal to confirm one, it shows it and trusts nothing.
  const unconfirmed = await owner.run(['login', '--server', url]);
  t.is(unconfirmed.code, 1);
  t.true(unconfirmed.stderr.includes(`its CA fingerprint is ${fingerprint}`), unconfirmed.stderr);
  t.false(fs.existsSync(path.join(owner.home, 'client.json')));

  // Three people sign in with the device login, approved in their browsers.
  for (const [user, account] of [[owner, olive], [editor, eddie], [viewer, vera]] as [ClientUser, typeof olive][]) {
    const login = await clientLogin(world, user, account, fingerprint);
    t.is(login.code, 0, login.stderr);
    t.regex(login.shown.user_code, /^[A-Z]{4}-?[A-Z]{4}$/);
    t.like(JSON.parse(login.done), { signed_in: true, me: { email: account.email } });
    const stored = path.join(user.home, 'client.json');
    t.is(fs.statSync(stored).mode & 0o777, 0o600, 'the tokens are readable by their owner only');
    t.is(JSON.parse(fs.readFileSync(stored, 'utf8')).servers[url].fingerprint, fingerprint);
  }
  t.like(json((await viewer.run(['whoami', '--json'])).stdout), { email: vera.email });

  // The owner shares a model (a 3 MiB baseline) and invites the others.
  const baseline = crypto.randomBytes(3 * 1024 * 1024);
  const shared = await owner.run(['share', file('bridge.model', baseline), '--name', 'Bridge B-12', '--json']);
  t.is(shared.code, 0, shared.stderr);
  const modelId = String(json(shared.stdout)['model']['id']);
  const ownerWatch = owner.start(['watch', modelId, '--json']);
  await eventually(() => world.server.services.sharing.routeDeps.stream.open.size === 1, 'the watch to connect', 60_000);
  t.is((await owner.run(['invite', modelId, eddie.email, '--role', 'editor'])).code, 0);
  t.is((await owner.run(['invite', modelId, vera.email, '--role', 'viewer'])).code, 0);

  // They join (accepting the invitation), and have the baseline's bytes.
  const editorDir = path.join(work, 'eddie');
  const viewerDir = path.join(work, 'vera');
  const editorJoin = await editor.run(['join', modelId, editorDir, '--json']);
  t.is(editorJoin.code, 0, editorJoin.stderr);
  t.like(json(editorJoin.stdout), { accepted_invitation: true, head: 0, baseline_seq: 0 });
  t.is((await viewer.run(['join', modelId, viewerDir])).code, 0);
  t.deepEqual(fs.readFileSync(path.join(editorDir, 'baseline.bin')), baseline);
  t.deepEqual(fs.readFileSync(path.join(viewerDir, 'baseline.bin')), baseline);
  const members = json((await owner.run(['members', modelId, '--json'])).stdout)['members'] as { display_name: string; role: string }[];
  t.deepEqual(members.map((m) => m.role).sort(), ['editor', 'owner', 'viewer']);

  // The editor writes out; the owner, stale at head 0, is told to read in first.
  const change = crypto.randomBytes(200_000);
  const wrote = await editor.run(['write-out', modelId, file('change-1.packet', change), '--comment', 'Widened the deck', '--json']);
  t.is(wrote.code, 0, wrote.stderr);
  t.like(json(wrote.stdout), { packet: { seq: 1, comment: 'Widened the deck' }, replayed: false });
  const stale = await owner.run(['write-out', modelId, file('owner.packet', crypto.randomBytes(4 * 1024 * 1024))]);
  t.is(stale.code, 3);
  t.regex(stale.stderr, /read in first with `modelshare-client read-in/);

  // The viewer's write-out is refused.
  const refused = await viewer.run(['write-out', modelId, file('viewer.packet', Buffer.from('nope')), '--json']);
  t.is(refused.code, 1);
  t.like(JSON.parse(refused.stderr), { error: { code: 'forbidden', status: 403 } });

  // The owner reads in and has the editor's bytes; then writes out and uploads a baseline.
  const ownerDir = path.join(work, 'olive');
  const readIn = await owner.run(['read-in', modelId, ownerDir, '--json']);
  t.is(readIn.code, 0, readIn.stderr);
  t.deepEqual(fs.readFileSync(path.join(ownerDir, 'packets', '00000001.packet')), change);
  t.is((await owner.run(['write-out', modelId, file('owner-2.packet', Buffer.from('second'))])).code, 0);
  t.is((await owner.run(['baseline', modelId, file('baseline-2.model', Buffer.from('baseline at 2'))])).code, 0);
  const again = await editor.run(['read-in', modelId, editorDir, '--json']);
  t.like(json(again.stdout), { head: 2 });
  t.deepEqual(fs.readFileSync(path.join(editorDir, 'packets', '00000002.packet')), Buffer.from('second'));
  const history = json((await viewer.run(['history', modelId, '--json'])).stdout);
  t.deepEqual(history['packets'].map((p: { seq: number }) => p.seq), [1, 2]);
  t.deepEqual(history['baselines'].map((b: { seq: number }) => b.seq), [2, 0]);

  // watch showed each event of the model as it happened.
  await eventually(() => ownerWatch.lines.filter((l) => JSON.parse(l).type === 'baseline').length === 1, 'the baseline event', 30_000);
  ownerWatch.kill();
  const seen = ownerWatch.lines.map((l) => JSON.parse(l) as ModelEvent);
  t.deepEqual(seen.filter((e) => e.type === 'packet').map((e) => e.data['seq']), [1, 2]);
  t.deepEqual(seen.filter((e) => e.type === 'membership' && e.data['change'] === 'joined').length, 2);
  t.true(seen.every((e, i) => i === 0 || Number(e.id) > Number(seen[i - 1]!.id)), 'in order, once each');

  // Through a flaky network (the library over a relay): a download cut in the middle resumes, …
  const relay = await startRelay(t, world.server.port);
  const ownerTokens = new ClientStore(owner.home).tokensOf(url);
  const viaRelay = new ModelshareClient({ server: relay.url, ca: world.server.ca, tokens: ownerTokens });
  t.teardown(() => viaRelay.close());
  relay.cutAfter(1024 * 1024);
  const dest = path.join(work, 'resumed.model');
  const got = await download(viaRelay, `/api/v1/models/${modelId}/baselines/0`, dest, { retryDelayMs: 10 });
  t.is(relay.cuts, 1);
  t.is(got.resumed, 1);
  t.deepEqual(fs.readFileSync(dest), baseline);
  t.false(fs.existsSync(`${dest}.part`));
  t.true(world.server.logs.some((l) => l['msg'] === 'request' && l['status'] === 206 && String(l['path']).endsWith('/baselines/0')));

  // … bytes that do not match their digest are discarded, never kept, …
  const bad = path.join(work, 'bad.model');
  const refusedDownload = await t.throwsAsync(download(viaRelay, `/api/v1/models/${modelId}/packets/1`, bad, { expected: `sha-256=:${Buffer.alloc(32).toString('base64')}:` }));
  t.is((refusedDownload as { code?: string }).code, 'digest_mismatch');
  t.false(fs.existsSync(bad) || fs.existsSync(`${bad}.part`));

  // … a write-out whose answer was lost is retried with the same key and made once, …
  const editorViaRelay = new ModelshareClient({ server: relay.url, ca: world.server.ca, tokens: new ClientStore(editor.home).tokensOf(url) });
  t.teardown(() => editorViaRelay.close());
  const head = world.server.stores.db.prepare<[string], { seq: number | null }>('SELECT max(seq) AS seq FROM packets WHERE model_id = ?');
  relay.loseAnswerOnce(() => (head.get(modelId)?.seq ?? 0) >= 3);
  const cutsBefore = relay.cuts;
  const third = await writeOut(editorViaRelay, modelId, 2, file('p3', crypto.randomBytes(200_000)), { retryDelayMs: 10 });
  t.is(relay.cuts, cutsBefore + 1, 'the first answer was lost');
  t.deepEqual([third.packet.seq, third.replayed], [3, true]);
  const editorClient = new ModelshareClient({ server: url, ca: world.server.ca, tokens: new ClientStore(editor.home).tokensOf(url) });
  t.teardown(() => editorClient.close());
  t.is((await editorClient.packets(modelId, 2)).head, 3, 'made once');

  // … and a dropped event stream resumes with Last-Event-ID, missing nothing.
  const events: ModelEvent[] = [];
  const reconnects: (string | undefined)[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const e of watch(viaRelay, { modelId, signal: stop.signal, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 50))), onReconnect: (_n, _ms, last) => reconnects.push(last) })) events.push(e);
  })();
  await new Promise((r) => setTimeout(r, 500));
  await writeOut(editorClient, modelId, 3, file('p4', Buffer.from('fourth')));
  await eventually(() => events.some((e) => e.type === 'packet' && e.data['seq'] === 4), 'packet 4 event', 30_000);
  relay.dropAll();
  await writeOut(editorClient, modelId, 4, file('p5', Buffer.from('fifth')));
  await eventually(() => events.some((e) => e.type === 'packet' && e.data['seq'] === 5), 'packet 5 event after the drop', 30_000);
  stop.abort();
  relay.dropAll();
  await watching;
  t.true(reconnects.length >= 1);
  t.deepEqual(events.filter((e) => e.type === 'packet').map((e) => e.data['seq']), [4, 5]);

  // An access token the server no longer takes (an hour later) is refreshed, and the call goes through.
  const before = JSON.parse(fs.readFileSync(path.join(viewer.home, 'client.json'), 'utf8')).servers[url].tokens;
  world.clock.advance(2 * 3600_000);
  const later = await viewer.run(['models', '--json']);
  t.is(later.code, 0, later.stderr);
  t.is(json(later.stdout)['models'][0]['id'], modelId);
  const refreshed = JSON.parse(fs.readFileSync(path.join(viewer.home, 'client.json'), 'utf8')).servers[url].tokens;
  t.not(refreshed.refresh_token, before.refresh_token, 'the refresh token rotated');

  // Logging out ends the login on the server.
  t.is((await viewer.run(['logout'])).code, 0);
  const after = await viewer.run(['whoami']);
  t.is(after.code, 4);
  t.regex(after.stderr, /login/);
});
