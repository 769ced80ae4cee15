/**
 * The file-system blob backend: `<dir>/<first two hex digits>/<id>` for published blobs and
 * `<dir>/staging/<id>` while one is written.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { BlobBackend, BlobWriter } from './backend.ts';

const idPattern = /^[0-9a-f]{32}$/;

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await fsp.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `chunks` without their first `skip` bytes. */
function remainder(chunks: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    if (skip >= chunk.length) {
      skip -= chunk.length;
      continue;
    }
    out.push(skip > 0 ? chunk.subarray(skip) : chunk);
    skip = 0;
  }
  return out;
}

export function fsBackend(dir: string): BlobBackend {
  const staging = path.join(dir, 'staging');
  fs.mkdirSync(staging, { recursive: true, mode: 0o700 });

  const published = (id: string) => {
    // Ids are made by the server, never by a client; the check keeps a bug from becoming a path trick.
    if (!idPattern.test(id)) throw new Error(`not a blob id: ${JSON.stringify(id)}`);
    return path.join(dir, id.slice(0, 2), id);
  };

  return {
    async create(id) {
      const target = published(id);
      // A name of its own per write: a write of the same blob cut short earlier (a migration killed
      // mid-copy) leaves a file that the staging sweep removes, and must not block this one.
      const temp = path.join(staging, `${id}.${crypto.randomBytes(4).toString('hex')}`);
      const handle = await fsp.open(temp, 'wx', 0o600);
      let closed = false;
      const close = async () => {
        if (!closed) {
          closed = true;
          await handle.close();
        }
      };
      const writer: BlobWriter = {
        async write(chunks) {
          // writev may take fewer bytes than it was given (a full disk, a signal): write the rest,
          // so a blob is never published shorter than its catalog row says.
          let rest = chunks.filter((c) => c.length > 0);
          while (rest.length > 0) {
            const total = rest.reduce((n, c) => n + c.length, 0);
            const { bytesWritten } = await handle.writev(rest);
            if (bytesWritten === total) return;
            if (bytesWritten === 0) throw Object.assign(new Error('no bytes could be written to the blob storage'), { code: 'ENOSPC' });
            rest = remainder(rest, bytesWritten);
          }
        },
        async publish() {
          // Durability order: file contents on disk, then the rename, then the directory entry on
          // disk. Only after this may the caller commit the catalog row that makes the blob visible.
          await handle.sync();
          await close();
          const shard = path.dirname(target);
          if (!fs.existsSync(shard)) {
            // Not recursive: should the blob directory itself be gone (an unmounted share), this
            // fails instead of re-creating it on whatever disk is underneath.
            await fsp.mkdir(shard, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
              if (error.code !== 'EEXIST') throw error;
            });
            await fsyncDirectory(dir);
          }
          await fsp.rename(temp, target);
          await fsyncDirectory(shard);
        },
        async abort() {
          await close().catch(() => undefined);
          await fsp.rm(temp, { force: true });
        },
      };
      return writer;
    },

    read(id, start, end, chunkSize = 1024 * 1024) {
      return fs.createReadStream(published(id), { start, end: end - 1, highWaterMark: chunkSize });
    },

    async openReader(id) {
      const handle = await fsp.open(published(id), 'r');
      return {
        async readInto(position, target) {
          let done = 0;
          while (done < target.length) {
            const { bytesRead } = await handle.read(target, done, target.length - done, position + done);
            if (bytesRead === 0) break;
            done += bytesRead;
          }
          return done;
        },
        close: () => handle.close(),
      };
    },

    async size(id) {
      const stat = await fsp.stat(published(id)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      return stat?.size;
    },

    async remove(id) {
      await fsp.rm(published(id), { force: true });
    },

    async *list() {
      for (const shard of await fsp.readdir(dir)) {
        if (!/^[0-9a-f]{2}$/.test(shard)) continue;
        for (const name of await fsp.readdir(path.join(dir, shard))) {
          if (!idPattern.test(name)) continue;
          const stat = await fsp.stat(path.join(dir, shard, name)).catch(() => undefined);
          if (stat) yield { id: name, modifiedMs: stat.mtimeMs };
        }
      }
    },

    async clearStaging(olderThanMs) {
      let removed = 0;
      const cutoff = Date.now() - olderThanMs;
      for (const name of await fsp.readdir(staging)) {
        const file = path.join(staging, name);
        const stat = await fsp.stat(file).catch(() => undefined);
        if (stat && stat.mtimeMs <= cutoff) {
          await fsp.rm(file, { force: true });
          removed++;
        }
      }
      return removed;
    },

    async check() {
      // A name of its own: two readiness checks at once must not remove each other's probe.
      const probe = path.join(staging, `.ready-${process.pid}-${crypto.randomUUID()}`);
      await fsp.writeFile(probe, '');
      await fsp.rm(probe);
    },

    close() {
      // Nothing is held open between calls.
    },
  };
}
