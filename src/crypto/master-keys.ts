/**
 * The master keys: read from the configured secret, or from the key file that the server creates on
 * first start. Both hold one or more base64 keys, one a line, oldest first; the last active one wraps
 * new data keys and the others only unwrap until `modelshare keys rotate` has re-wrapped their rows.
 *
 * Rotation with the key file is two steps, so the new key wraps nothing before the operator has a
 * copy of it: `keys rotate` appends the new key marked `pending` (it unwraps nothing and wraps
 * nothing), the operator backs the file up, and `keys rotate --activate` drops the mark and re-wraps.
 * The old key stays until `keys retire`. Both steps and `retire` hold `<key file>.lock`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface MasterKey {
  /** Derived from the key, so the same key always has the same id and the id reveals nothing of it. */
  id: string;
  key: Buffer;
  /** Added by `keys rotate` and not yet activated: it wraps nothing until the operator has backed it up. */
  pending?: boolean;
}

export class MasterKeyError extends Error {
  override name = 'MasterKeyError';
}

const header =
  '# Modelshare master keys, oldest first; the last line not marked pending wraps new data keys.\n' +
  '# Keep a copy of this file apart from the data and its backups: without it nothing can be read.\n';

/** The word after a key that marks it pending (added by `keys rotate`, not yet activated). */
const pendingMark = 'pending';

export function masterKeyId(key: Buffer): string {
  return `mk-${crypto.createHmac('sha256', key).update('modelshare master key id').digest('hex').slice(0, 16)}`;
}

/**
 * Parses key text: base64 keys separated by newlines or spaces, each optionally followed by the word
 * `pending`; `#` starts a comment line.
 */
export function parseMasterKeys(text: string, where: string): MasterKey[] {
  const words = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .flatMap((line) => line.trim().split(/\s+/))
    .filter(Boolean);
  const keys: MasterKey[] = [];
  for (const word of words) {
    if (word === pendingMark && keys.length > 0 && !keys.at(-1)!.pending) {
      keys.at(-1)!.pending = true;
      continue;
    }
    const key = Buffer.from(word, 'base64');
    if (key.length !== 32 || key.toString('base64') !== word) {
      throw new MasterKeyError(`${where}: key ${keys.length + 1} is not the base64 form of 32 bytes`);
    }
    keys.push({ id: masterKeyId(key), key });
  }
  if (!keys.some((k) => !k.pending)) throw new MasterKeyError(`${where} holds no active master key`);
  return keys;
}

/** The key that wraps new data keys: the last one not pending. */
export function primaryKey(keys: MasterKey[]): MasterKey {
  return keys.filter((k) => !k.pending).at(-1)!;
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
    fs.writeFileSync(fd, header + keys.map((k) => `${k.key.toString('base64')}${k.pending ? ` ${pendingMark}` : ''}\n`).join(''));
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
  /** Adds a new key marked pending (it wraps nothing yet); only a key file can do this. */
  addPendingKey(): MasterKey;
  /** Drops the pending mark of the key, making it the one that wraps; only a key file can do this. */
  activate(id: string): void;
  /** Keeps only the given keys (by id); only a key file can do this. */
  keepOnly(ids: Set<string>): void;
  /** Runs `work` holding the lock that keeps two rotations from changing the keys at once. */
  locked<T>(work: () => T): T;
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
  return {
    current: () => keys,
    addPendingKey: fixed,
    activate: fixed,
    keepOnly: fixed,
    locked: (work) => work(),
    managed: false,
    description: 'keys.master_key (supplied by the configuration)',
  };
}

/**
 * Runs `work` holding `<file>.lock`, made with O_EXCL and holding this process id. A lock whose
 * process is gone (a rotation killed midway) is taken over; a live one is refused, naming it.
 */
export function withKeyFileLock<T>(file: string, work: () => T): T {
  const lock = `${file}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lock, 'wx', 0o600);
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw error;
      const holder = Number.parseInt(fs.readFileSync(lock, 'utf8'), 10);
      if (Number.isInteger(holder) && holder > 0 && processAlive(holder)) {
        throw new MasterKeyError(`${lock} is held by process ${holder}: another key rotation is running. Wait for it to finish.`);
      }
      fs.rmSync(lock, { force: true });
    }
  }
  try {
    return work();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How the key file is opened: `create` makes it when missing (first start of `serve`). */
export interface KeyFileOptions {
  /**
   * May a missing file be created? Refused when the database already holds data keys (they were
   * wrapped by the missing file's keys, and a new key would make everything unreadable) and for
   * read-only commands.
   */
  create: boolean;
}

/** A missing key file where one is needed: the message names the file and what to do. */
export class MissingKeyFileError extends MasterKeyError {
  override name = 'MissingKeyFileError';
}

/**
 * The key file. `created` is set when this call made it, so the caller can tell the operator loudly
 * to back it up.
 */
export function keyFile(file: string, options: KeyFileOptions = { create: true }): MasterKeySource & { created: boolean } {
  let created = false;
  if (!fs.existsSync(file)) {
    if (!options.create) throw new MissingKeyFileError(`the master key file ${path.resolve(file)} does not exist`);
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
    addPendingKey() {
      const key = { ...newMasterKey(), pending: true };
      writeKeyFile(file, [...read(), key]);
      return key;
    },
    activate(id) {
      const keys = read();
      if (!keys.some((k) => k.id === id && k.pending)) throw new MasterKeyError(`${file} has no pending master key ${id}`);
      // The activated key moves last, so that it is the primary one whatever else the file holds.
      const key = keys.find((k) => k.id === id)!;
      writeKeyFile(file, [...keys.filter((k) => k.id !== id), { id: key.id, key: key.key }]);
    },
    keepOnly(ids) {
      const keys = read();
      const kept = keys.filter((k) => ids.has(k.id));
      if (!kept.includes(primaryKey(keys)) || keys.some((k) => k.pending && !ids.has(k.id))) {
        throw new MasterKeyError('the primary master key and a pending one cannot be removed');
      }
      writeKeyFile(file, kept);
    },
    locked: (work) => withKeyFileLock(file, work),
  };
}
