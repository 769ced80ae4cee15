/**
 * Blob write and read throughput for a large stream, against the limits measured in the same run on
 * the same machine: SHA-256 alone, AES-256-GCM in 64 KiB segments alone, and plain `fs` streaming of
 * the same bytes (write with fsync, then read). Sizes: BENCH_BLOB_MIB (default 1024). Peak RSS here is
 * this whole process's (the blob service runs in it); the server's own memory is in bench/transfers.ts.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openStores } from '../src/boot.ts';
import { loadConfig } from '../src/config/load.ts';
import { createLogger } from '../src/log.ts';
import { gbps, goal, measure, row, source } from './measure.ts';

export async function blobThroughput(): Promise<void> {
  const total = Number(process.env['BENCH_BLOB_MIB'] ?? 1024) * 1024 * 1024;
  const pattern = crypto.randomBytes(32 * 1024 * 1024);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-'));
  try {
    const hashOnly = await measure(total, async () => {
      const hash = crypto.createHash('sha256');
      for await (const chunk of source(total, pattern)) hash.update(chunk);
      hash.digest();
    });
    const key = crypto.randomBytes(32);
    const aesOnly = await measure(total, async () => {
      let i = 0;
      for await (const chunk of source(total, pattern)) {
        const iv = Buffer.alloc(12);
        iv.writeUInt32BE(i++, 8);
        const c = crypto.createCipheriv('aes-256-gcm', key, iv);
        c.update(chunk);
        c.final();
        c.getAuthTag();
      }
    });
    const plainFile = path.join(dir, 'plain.bin');
    const fsWrite = await measure(total, async () => {
      const out = fs.createWriteStream(plainFile, { highWaterMark: 1024 * 1024 });
      await pipeline(Readable.from(source(total, pattern)), out);
      const fd = fs.openSync(plainFile, 'r+');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    });
    const fsRead = await measure(total, async () => {
      await pipeline(fs.createReadStream(plainFile, { highWaterMark: 1024 * 1024 }), new Writable({ write: (_c, _e, cb) => cb() }));
    });
    fs.rmSync(plainFile);

    const config = loadConfig({ env: { MODELSHARE_DATA_DIR: path.join(dir, 'data') } });
    const stores = openStores(config, createLogger('error'));
    const dataKeyId = stores.keys.create('model');
    // The crypto workers start as the server starts them (`serve`), not inside the measurement.
    stores.blobs.warm();
    const expected = crypto.createHash('sha256');
    for await (const chunk of source(total, pattern)) expected.update(chunk);
    const digest = expected.digest();
    let blobId = '';
    const blobWrite = await measure(total, async () => {
      const staged = await stores.blobs.put(Readable.from(source(total, pattern)), { dataKeyId, maxBytes: total, expected: { 'sha-256': digest } });
      stores.db.transaction(() => stores.blobs.commit(staged))();
      blobId = staged.id;
    });
    const blobRead = await measure(total, async () => {
      await pipeline(stores.blobs.read(stores.blobs.info(blobId)!), new Writable({ write: (_c, _e, cb) => cb() }));
    });
    stores.close();

    console.log(`\nblob store, ${total / 1024 / 1024} MiB stream (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? 'unknown CPU'})`);
    console.log(row('limit: sha-256 alone', hashOnly));
    console.log(row('limit: aes-256-gcm, 64 KiB chunks, alone', aesOnly));
    console.log(row('baseline: fs write stream + fsync', fsWrite));
    console.log(row('baseline: fs read stream', fsRead));
    console.log(`${row('blob write (hash + seal + write + fsync)', blobWrite)}  ${goal(gbps(blobWrite) / gbps(fsWrite), { atLeast: 0.8 })}`);
    console.log(`${row('blob read (read + open segments)', blobRead)}  ${goal(gbps(blobRead) / gbps(fsRead), { atLeast: 0.8 })}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
