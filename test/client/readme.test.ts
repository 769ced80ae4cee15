import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { Browser, formField } from '../helpers/browser.ts';
import { clientUser, type ClientUser } from '../helpers/client.ts';
import { spawnServer } from '../helpers/spawn.ts';
import { tmpDir } from '../helpers/tmp.ts';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = (probe.address() as net.AddressInfo);
      probe.close(() => resolve(port));
    });
  });
}

test("the README's newcomer: shares and joins a model with modelshare-client on embedded defaults", async (t) => {
  t.timeout(6 * 60_000);
  const port = await freePort();
  const base = `https://localhost:${port}`;
  const server = await spawnServer(t, { MODELSHARE_DATA_DIR: tmpDir(t), MODELSHARE_SERVER_PORT: String(port), MODELSHARE_PUBLIC_URL: base });
  const work = tmpDir(t, 'modelshare-readme-');

  /** `login` as the README says, approved by the demo person in a browser as the README says. */
  const login = async (user: ClientUser, demoPerson: string) => {
    const running = user.start(['login', '--server', base, '--fingerprint', server.caFingerprint!]);
    const shown = await running.line();
    const code = /enter the code (\S+)/.exec(shown)![1]!;
    const address = /open (\S+) in a browser/.exec(shown)![1]!;
    const browser = new Browser(t, [server.ca!]);
    let pick = await browser.follow(`${base}/auth/login?return_to=/device`);
    for (let i = 0; pick.status === 503 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pick = await browser.follow(`${base}/auth/login?return_to=/device`);
    }
    const page = await browser.follow(`${base}${/action="([^"]+)"/.exec(pick.body)![1]!}`, { form: { person: demoPerson } });
    const csrf = formField(page.body, '_csrf');
    t.is((await browser.request(address, { form: { _csrf: csrf, user_code: code } })).status, 200);
    t.is((await browser.request(`${address}/decision`, { form: { _csrf: csrf, user_code: code, decision: 'approve' } })).status, 200);
    t.is(await running.exited, 0, running.stderr());
    return running.lines.join('\n');
  };

  const bob = clientUser(t);
  t.regex(await login(bob, 'demo-2'), /Signed in to .* as Bob/);
  const model = path.join(work, 'bridge.model');
  fs.writeFileSync(model, 'the first baseline');
  const shared = await bob.run(['share', model, '--name', 'Bridge B-12']);
  t.is(shared.code, 0, shared.stderr);
  const modelId = /as (m_\S+);/.exec(shared.stdout)![1]!;
  const invited = await bob.run(['invite', modelId, 'carla@partner.example', '--role', 'editor']);
  t.is(invited.code, 0, invited.stderr);

  const carla = clientUser(t);
  t.regex(await login(carla, 'demo-3'), /as Carla/);
  const joined = await carla.run(['join', modelId, path.join(work, 'carla')]);
  t.is(joined.code, 0, joined.stderr);
  t.is(fs.readFileSync(path.join(work, 'carla', 'baseline.bin'), 'utf8'), 'the first baseline');
  const change = path.join(work, 'change.packet');
  fs.writeFileSync(change, "Carla's change");
  t.is((await carla.run(['write-out', modelId, change, '--comment', 'Widened the deck'])).code, 0);
  const readIn = await bob.run(['read-in', modelId, path.join(work, 'bob')]);
  t.is(readIn.code, 0, readIn.stderr);
  t.is(fs.readFileSync(path.join(work, 'bob', 'packets', '00000001.packet'), 'utf8'), "Carla's change");
  server.child.kill('SIGTERM');
  await server.exited;
});
