/**
 * Sharing benchmarks, each against a baseline measured in the same run on the same machine, the real
 * server in a process of its own (bench/child-server.ts):
 * - write-outs (bench/write-outs.ts): 64 KiB packets from 32 concurrent writers against a bare Koa
 *   HTTPS endpoint that reads and discards them;
 * - large transfers (bench/transfers.ts): a baseline up and down against a bare HTTPS server
 *   streaming the same bytes to a file (with fsync) and back, and the server's peak memory.
 * Notification delay at 10,000 event streams is bench/events.ts.
 */
import { transferBench } from './transfers.ts';
import { writeOutBench } from './write-outs.ts';

export async function sharingBench(): Promise<void> {
  await writeOutBench();
  await transferBench();
}
