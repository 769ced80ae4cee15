/**
 * `npm run bench`: every benchmark, each printing its figures as ratios against baselines measured
 * in the same run, then one summary table of the figures the benchmarks return (their goals beside
 * them). Never part of `npm test`: timings belong here, not in assertions.
 */
import { adminListsBench } from './admin-lists.ts';
import { backupBench } from './backup.ts';
import { blobThroughput } from './blob-throughput.ts';
import { eventsBench } from './events.ts';
import { historyBench } from './history.ts';
import { idleBench } from './idle.ts';
import type { SummaryRow } from './measure.ts';
import { replicationBench } from './replication.ts';
import { s3Bench } from './s3.ts';
import { sharingBench } from './sharing.ts';

const benchmarks: Record<string, () => Promise<void | SummaryRow[]>> = {
  blobs: blobThroughput,
  sharing: sharingBench,
  backup: backupBench,
  admin: adminListsBench,
  events: eventsBench,
  history: historyBench,
  idle: idleBench,
  replication: replicationBench,
  s3: s3Bench,
};
const only = process.argv.slice(2);
const summary: SummaryRow[] = [];
for (const [name, run] of Object.entries(benchmarks)) {
  if (only.length === 0 || only.includes(name)) summary.push(...((await run()) ?? []));
}
if (summary.length > 0) {
  const header: SummaryRow = { figure: 'figure', value: 'value', baseline: 'baseline', ratio: 'ratio', goal: 'goal', met: null };
  const cells = (r: SummaryRow) => [r.figure, r.value, r.baseline, r.ratio, r.goal, r === header ? 'met' : r.met === null ? '—' : r.met ? 'yes' : 'NO'];
  const widths = cells(header).map((_, i) => Math.max(...[header, ...summary].map((r) => cells(r)[i]!.length)));
  console.log('\nsummary (every figure against its baseline from this run)');
  for (const r of [header, ...summary]) console.log(cells(r).map((c, i) => c.padEnd(widths[i]!)).join('  '));
}
