import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { StorageMonitor } from '../../src/blobs/storage-monitor.ts';
import { AppError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { tmpDir } from '../helpers/tmp.ts';

function monitor(dataDir: string, minFreeBytes: number): StorageMonitor {
  fs.mkdirSync(path.join(dataDir, 'blobs'), { recursive: true });
  return new StorageMonitor({ dataDir, blobDir: path.join(dataDir, 'blobs'), minFreeBytes, intervalMs: 60_000, log: createLogger('silent') });
}

const refusal = async (m: StorageMonitor) => {
  try {
    await m.assertWritable();
    return undefined;
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
};

test.serial('an upload trusts a finding of room to spare for a second, then looks again', async (t) => {
  const dir = path.join(tmpDir(t), 'data');
  const m = monitor(dir, 0);
  const found = await m.check();
  t.is(found.state, 'ok');
  t.true(found.freeBytes! > 256 * 1024 * 1024, 'this test needs a temp dir with room to spare');
  fs.renameSync(dir, `${dir}.away`);
  t.is(await refusal(m), undefined, 'a check of the last second found room: no stat and statfs for this upload');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  t.is(await refusal(m), 'service_unavailable', 'a second later the upload looks again, and finds the directory gone');
});

test.serial('near the free-space floor every upload looks again', async (t) => {
  const dir = path.join(tmpDir(t), 'data');
  const free = (await monitor(dir, 0).check()).freeBytes!;
  // The floor a little under what is free: room, but not to spare.
  const m = monitor(dir, Math.max(0, free - 64 * 1024 * 1024));
  t.is((await m.check()).state, 'ok');
  fs.renameSync(dir, `${dir}.away`);
  t.is(await refusal(m), 'service_unavailable');
});
