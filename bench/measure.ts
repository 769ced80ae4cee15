/** Timing and memory sampling shared by the benchmarks. */
import fs from 'node:fs';
export interface Measurement {
  seconds: number;
  bytes: number;
  /** Highest resident set size seen while the work ran, in bytes. */
  peakRss: number;
}

export async function measure(bytes: number, work: () => Promise<void>): Promise<Measurement> {
  global.gc?.();
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const started = process.hrtime.bigint();
  try {
    await work();
  } finally {
    clearInterval(sampler);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, bytes, peakRss: Math.max(peakRss, process.memoryUsage.rss()) };
}

export const gbps = (m: Measurement) => m.bytes / m.seconds / 1e9;
export const mib = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MiB`;

export function row(name: string, m: Measurement, baseline?: Measurement): string {
  const ratio = baseline ? `  ${(gbps(m) / gbps(baseline)).toFixed(2)}× baseline` : '';
  return `${name.padEnd(44)} ${gbps(m).toFixed(3)} GB/s  ${m.seconds.toFixed(2)} s  peak RSS ${mib(m.peakRss)}${ratio}`;
}

/** `total` bytes of incompressible data in `chunk`-sized buffers, without holding them all. */
export async function* source(total: number, pattern: Buffer, chunk = 64 * 1024): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += chunk) {
    const n = Math.min(chunk, total - sent);
    const offset = sent % (pattern.length - chunk);
    yield pattern.subarray(offset, offset + n);
  }
}

/**
 * One line of the table `npm run bench` prints at the end. A benchmark may return its rows (they are
 * optional: one that returns nothing just prints its own lines). `met` is null where no goal applies.
 */
export interface SummaryRow {
  figure: string;
  value: string;
  baseline: string;
  /** value against baseline, as the figure reads best (×, or a difference). */
  ratio: string;
  goal: string;
  met: boolean | null;
}

/** CPU time (user + system) a process has used, in milliseconds, from /proc (Linux). */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** A field of /proc/PID/status given in kB (VmRSS, VmHWM), in bytes (Linux). */
export function procStatus(pid: number, field: string): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

/** A process's resident set size now, in bytes (Linux). */
export const rssOf = (pid: number): number => procStatus(pid, 'VmRSS');

/** How a figure compares with its goal: `0.93× (goal ≥ 0.9×, met)`. */
export function goal(value: number, target: { atLeast?: number; atMost?: number }, unit = '×', digits = 2): string {
  const met = (target.atLeast === undefined || value >= target.atLeast) && (target.atMost === undefined || value <= target.atMost);
  const bound = target.atLeast !== undefined ? `≥ ${target.atLeast}${unit}` : `≤ ${target.atMost}${unit}`;
  // One more digit where rounding would make a miss look like the goal itself (0.598 → "0.60").
  const limit = target.atLeast ?? target.atMost!;
  const shown = !met && value.toFixed(digits) === limit.toFixed(digits) ? value.toFixed(digits + 1) : value.toFixed(digits);
  return `${shown}${unit} (goal ${bound}, ${met ? 'met' : 'NOT met'})`;
}
