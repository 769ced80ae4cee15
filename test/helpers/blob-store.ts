/**
 * What a test server's blob storage holds, whichever backend it runs on (the data directory, or a
 * bucket of the test process's S3 emulator): published blobs, and writes still in staging.
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Config } from '../../src/config/options.ts';
import type { Stores } from '../../src/boot.ts';
import { sharedS3 } from './s3.ts';
import { filesUnder } from './tmp.ts';

interface HasStore { config: Config; stores: Stores; dataDir?: string }

/** The ids of every published blob, listed through the backend itself. */
export async function storedBlobs(server: HasStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const { id } of server.stores.blobBackend.list()) ids.push(id);
  return ids;
}

/** Writes not published and not thrown away: staging files, or incomplete multipart uploads. */
export async function stagedBlobs(server: HasStore): Promise<number> {
  if (server.config.storage.backend === 's3') {
    return (await sharedS3()).uploads(server.config.storage.s3.bucket).length;
  }
  return filesUnder(path.join(server.config.data_dir, 'blobs', 'staging')).filter((f) => !path.basename(f).startsWith('.ready-')).length;
}

/** Every byte a blob read gives, in one buffer. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
