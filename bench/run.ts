/**
 * `npm run bench`: every benchmark, each printing its figures as ratios against baselines measured
 * in the same run. Never part of `npm test`: timings belong here, not in assertions.
 */
import { adminListsBench } from './admin-lists.ts';
import { backupBench } from './backup.ts';
import { blobThroughput } from './blob-throughput.ts';
import { sharingBench } from './sharing.ts';

const benchmarks: Record<string, () => Promise<void>> = { blobs: blobThroughput, sharing: sharingBench, backup: backupBench, admin: adminListsBench };
const only = process.argv.slice(2);
for (const [name, run] of Object.entries(benchmarks)) {
  if (only.length === 0 || only.includes(name)) await run();
}
