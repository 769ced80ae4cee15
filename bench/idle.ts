/**
 * The server's memory at rest: the built server in its own process on a fresh data directory,
 * resident set size (VmRSS) once `/readyz` answers and a few seconds have passed, against a bare Node
 * HTTPS server (bench/bare-server.ts) started the same way. Runs: BENCH_IDLE_RUNS (default 3).
 */
import fs from 'node:fs';
import { request } from 'undici';
import { benchPerson, prepare, startBare, startChild } from './child-server.ts';
import { mib, type SummaryRow } from './measure.ts';

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function idleBench(): Promise<SummaryRow[]> {
  const runs = Number(process.env['BENCH_IDLE_RUNS'] ?? 3);
  const prepared = await prepare({}, ({ services }) => benchPerson(services, 'idle'));
  const rest: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < runs; i++) {
    const server = await startChild(prepared);
    const agent = server.agent(1);
    try {
      const res = await request(`${server.url}/readyz`, { dispatcher: agent });
      await res.body.dump();
      const me = await request(`${server.url}/api/v1/me`, { dispatcher: agent, headers: { authorization: `Bearer ${prepared.filled.token}` } });
      await me.body.dump();
      await settle(3000);
      rest.push(server.rss());
    } finally {
      await agent.close();
      await server.stop();
    }
    const b = await startBare(prepared, 'file');
    try {
      await settle(3000);
      bare.push(b.rss());
    } finally {
      await b.stop();
    }
  }
  fs.rmSync(prepared.dir, { recursive: true, force: true });
  const range = (xs: number[]) => `${mib(Math.min(...xs))}–${mib(Math.max(...xs))}`;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`\nmemory at rest (${runs} runs): server RSS ${range(rest)} (median ${mib(median(rest))}) after /readyz and one API call; bare HTTPS server ${range(bare)}`);
  return [{ figure: 'server RSS at rest', value: mib(median(rest)), baseline: `${mib(median(bare))} bare`, ratio: `+${mib(median(rest) - median(bare))}`, goal: '—', met: null }];
}
