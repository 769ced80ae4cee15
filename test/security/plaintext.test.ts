/**
 * Nothing on disk reveals what it protects: known markers sealed into columns and streamed into
 * blobs must not be found, in any encoding a grep would catch, anywhere under the data directory
 * (database, WAL, blobs, staging).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import test from 'ava';
import { seal } from '../../src/crypto/sealed.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder } from '../helpers/tmp.ts';

test('markers sealed into the database and written into blobs are not on disk in plaintext', async (t) => {
  const { keys, blobs, db, dataDir } = openTestStores(t);
  db.exec('CREATE TABLE probe (id TEXT PRIMARY KEY, value BLOB NOT NULL)');
  const marker = `MARKER-${crypto.randomBytes(8).toString('hex')}`;
  const modelKey = keys.create('model');
  db.prepare('INSERT INTO probe VALUES (?, ?)').run('r1', seal(keys, keys.singleton('personal'), { table: 'probe', column: 'value', row: 'r1' }, `${marker} ada@example.com`));
  const content = Buffer.from(`${marker} beam B-12 `.repeat(50_000));
  const staged = await blobs.put(Readable.from([content]), {
    dataKeyId: modelKey,
    maxBytes: 1e9,
    expected: { 'sha-256': crypto.createHash('sha256').update(content).digest() },
  });
  db.transaction(() => blobs.commit(staged))();

  const needles = [marker, 'ada@example.com', 'beam B-12'].flatMap((m) => [Buffer.from(m, 'utf8'), Buffer.from(m, 'utf16le')]);
  const files = filesUnder(dataDir);
  t.true(files.some((f) => f.endsWith('modelshare.db-wal')) || files.some((f) => f.endsWith('modelshare.db')));
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const needle of needles) t.false(bytes.includes(needle), `${file} contains ${needle.toString()}`);
  }
  // The key file is the one thing that must stay secret and apart; it holds no data.
  t.true(files.some((f) => f.endsWith('master.key')));
});
