/**
 * Large transfers over HTTPS, the real server (built, in its own process) against a bare Node HTTPS
 * server in its own process that streams the same bytes to a file with fsync and back; the client
 * is this process. Figures: upload and download throughput as ratios, the server's peak memory
 * (VmHWM) in each, and with one upload and one download of the same size at once.
 * Size: BENCH_BASELINE_MIB (default 1024).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, type Agent } from 'undici';
import { benchPerson, prepare, startBare, startChild } from './child-server.ts';
import { gbps, goal, measure, mib, source, type Measurement } from './measure.ts';

const chunk = 1024 * 1024;

export async function transferBench(): Promise<void> {
  const total = Number(process.env['BENCH_BASELINE_MIB'] ?? 1024) * 1024 * 1024;
  const pattern = crypto.randomBytes(32 * 1024 * 1024);
  const hash = crypto.createHash('sha256');
  for await (const part of source(total, pattern, chunk)) hash.update(part);
  const digest = `sha-256=:${hash.digest('base64')}:`;
  const prepared = await prepare({ MODELSHARE_LIMITS_BASELINE: '20GiB' }, ({ services }) => benchPerson(services, 'baseline-owner'));
  const owner = prepared.filled;

  const upload = (agent: Agent, url: string, headers: Record<string, string>) =>
    measure(total, async () => {
      const res = await request(url, { method: url.includes('/api/') ? 'POST' : 'PUT', dispatcher: agent, body: Readable.from(source(total, pattern, chunk)), headers: { 'content-type': 'application/octet-stream', 'content-length': String(total), ...headers } });
      await res.body.dump();
      if (res.statusCode !== 201) throw new Error(`upload answered ${res.statusCode}`);
    });
  const download = (agent: Agent, url: string, headers: Record<string, string>) =>
    measure(total, async () => {
      const res = await request(url, { dispatcher: agent, headers });
      if (res.statusCode !== 200) throw new Error(`download answered ${res.statusCode}`);
      await pipeline(res.body, new Writable({ write: (_c, _e, cb) => cb() }));
    });

  const bare = await startBare(prepared, 'file');
  const bareAgent = bare.agent(2);
  let bareUp: Measurement, bareDown: Measurement, bareUpPeak: number, bareDownPeak: number;
  try {
    bare.resetPeak();
    bareUp = await upload(bareAgent, `${bare.url}/file`, {});
    bareUpPeak = bare.peakRss();
    bare.resetPeak();
    bareDown = await download(bareAgent, `${bare.url}/file`, {});
    bareDownPeak = bare.peakRss();
  } finally {
    await bareAgent.close();
    await bare.stop();
  }

  const server = await startChild(prepared);
  const agent = server.agent(2);
  try {
    const auth = { authorization: `Bearer ${owner.token}` };
    const model = async (name: string) => {
      const res = await request(`${server.url}/api/v1/models`, { method: 'POST', dispatcher: agent, body: JSON.stringify({ name }), headers: { ...auth, 'content-type': 'application/json' } });
      return ((await res.body.json()) as { id: string }).id;
    };
    const [first, second] = [await model('big'), await model('big too')];
    const baselineUrl = (id: string) => `${server.url}/api/v1/models/${id}/baselines`;
    server.resetPeak();
    const up = await upload(agent, `${baselineUrl(first)}?seq=0`, { ...auth, 'content-digest': digest });
    const upPeak = server.peakRss();
    server.resetPeak();
    const down = await download(agent, `${baselineUrl(first)}/latest`, auth);
    const downPeak = server.peakRss();
    server.resetPeak();
    const [bothUp, bothDown] = await Promise.all([upload(agent, `${baselineUrl(second)}?seq=0`, { ...auth, 'content-digest': digest }), download(agent, `${baselineUrl(first)}/latest`, auth)]);
    const bothPeak = server.peakRss();

    const line = (name: string, m: Measurement, peak: number) => `${name.padEnd(46)} ${gbps(m).toFixed(3)} GB/s  ${m.seconds.toFixed(2)} s  server peak RSS ${mib(peak)}`;
    console.log(`\ntransfers: ${mib(total)} over HTTPS; the server and the bare baseline each in a process of their own, the client in this one`);
    console.log(line('baseline: bare HTTPS upload to file + fsync', bareUp, bareUpPeak));
    console.log(line('baseline: bare HTTPS download from file', bareDown, bareDownPeak));
    console.log(`${line('upload (digest, seal, fsync, commit)', up, upPeak)}  ${goal(gbps(up) / gbps(bareUp), { atLeast: 0.9 })}`);
    console.log(`${line('download (open segments)', down, downPeak)}  ${goal(gbps(down) / gbps(bareDown), { atLeast: 0.9 })}`);
    console.log(`${'1 upload and 1 download at once'.padEnd(46)} up ${gbps(bothUp).toFixed(3)} GB/s, down ${gbps(bothDown).toFixed(3)} GB/s  server peak RSS ${goal(bothPeak / 1024 / 1024, { atMost: 150 }, ' MiB', 0)}`);
    console.log(`${'server peak RSS, upload / download alone'.padEnd(46)} ${goal(upPeak / 1024 / 1024, { atMost: 150 }, ' MiB', 0)} / ${goal(downPeak / 1024 / 1024, { atMost: 150 }, ' MiB', 0)}`);
  } finally {
    await agent.close();
    await server.stop();
    // Three 1 GiB files: a few runs would fill the disk.
    fs.rmSync(prepared.dir, { recursive: true, force: true });
  }
}
