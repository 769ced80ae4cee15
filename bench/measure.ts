/** Timing and memory sampling shared by the benchmarks. */
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
