/**
 * The master keys: read from the configured secret, or from the key file that the server creates on
 * first start. Both hold one or more base64 keys, one a line, oldest first; the last one wraps new
 * data keys and the others only unwrap until `modelshare keys rotate` has re-wrapped their rows.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface MasterKey {
  /** Derived from the key, so the same key always has the same id and the id reveals nothing of it. */
  id: string;
  key: Buffer;
}

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

const header =
  '# Modelshare master keys, oldest first; the last line wraps new data keys.\n' +
  '# Keep a copy of this file apart from the data and its backups: without it nothing can be read.\n';

export function masterKeyId(key: Buffer): string {
  return `mk-${crypto.createHmac('sha256', key).update('modelshare master key id').digest('hex').slice(0, 16)}`;
}

/** Parses key text: base64 keys separated by newlines or spaces; `#` starts a comment line. */
export function parseMasterKeys(text: string, where: string): MasterKey[] {
  const words = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.trim().split(/\s+/))
    .filter(Boolean);
  if (words.length === 0) throw new MasterKeyError(`${where} holds no master key`);
  return words.map((word, i) => {
    const key = Buffer.from(word, 'base64');
    if (key.length !== 32 || key.toString('base64') !== word) {
      throw new MasterKeyError(`${where}: key ${i + 1} is not the base64 form of 32 bytes`);
    }
    return { id: masterKeyId(key), key };
  });
}

export function newMasterKey(): MasterKey {
  const key = crypto.randomBytes(32);
  return { id: masterKeyId(key), key };
}

/** Writes the key file atomically (temp file, fsync, rename, directory fsync), readable by the owner only. */
export function writeKeyFile(file: string, keys: MasterKey[]): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, header + keys.map((k) => `${k.key.toString('base64')}\n`).join(''));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  const dirFd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/** Where the master keys come from: a supplied secret (fixed for the process) or the key file. */
export interface MasterKeySource {
  /** The keys now; a key file is read again when it has changed since the last call. */
  current(): MasterKey[];
  /** Adds a new key and makes it the one that wraps; only a key file can do this. */
  addKey(): MasterKey;
  /** Keeps only the given keys (by id); only a key file can do this. */
  keepOnly(ids: Set<string>): void;
  readonly description: string;
  /** True for the key file, which the server and `keys rotate` may write; false for a supplied secret. */
  readonly managed: boolean;
}

export function suppliedKeys(text: string): MasterKeySource {
  const keys = parseMasterKeys(text, 'keys.master_key');
  const fixed = (): never => {
    throw new MasterKeyError(
      'the master key is supplied by the configuration (keys.master_key); add the new key there as the last line, ' +
        'restart the server, then run `modelshare keys rotate` to re-wrap',
    );
  };
  return { current: () => keys, addKey: fixed, keepOnly: fixed, managed: false, description: 'keys.master_key (supplied by the configuration)' };
}

/**
 * The key file, created on first use. `created` is set when this call made it, so the caller can tell
 * the operator loudly to back it up.
 */
export function keyFile(file: string): MasterKeySource & { created: boolean } {
  let created = false;
  if (!fs.existsSync(file)) {
    writeKeyFile(file, [newMasterKey()]);
    created = true;
  }
  let cache: { mtimeMs: number; size: number; keys: MasterKey[] } | undefined;
  const read = (): MasterKey[] => {
    const stat = fs.statSync(file);
    if (stat.mode & 0o077) throw new MasterKeyError(`${file} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    if (!cache || cache.mtimeMs !== stat.mtimeMs || cache.size !== stat.size) {
      cache = { mtimeMs: stat.mtimeMs, size: stat.size, keys: parseMasterKeys(fs.readFileSync(file, 'utf8'), file) };
    }
    return cache.keys;
  };
  read();
  return {
    created,
    managed: true,
    description: file,
    current: read,
    addKey() {
      const key = newMasterKey();
      writeKeyFile(file, [...read(), key]);
      return key;
    },
    keepOnly(ids) {
      const keys = read();
      const kept = keys.filter((k) => ids.has(k.id));
      if (kept.at(-1) !== keys.at(-1)) throw new MasterKeyError('the newest master key cannot be removed');
      writeKeyFile(file, kept);
    },
  };
}
