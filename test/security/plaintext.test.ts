/**
 * Nothing on disk reveals what it protects: known markers sealed into columns and streamed into
 * blobs must not be found, in any encoding a grep would catch, anywhere under the data directory
 * (database, WAL, blobs, staging).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import test from 'ava';
import { seal } from '../../src/crypto/sealed.ts';
import { person, writeOut } from '../helpers/people.ts';
import { startServer } from '../helpers/server.ts';
import { openTestStores } from '../helpers/stores.ts';
import { filesUnder } from '../helpers/tmp.ts';

test('markers sealed into the database and written into blobs are not on disk in plaintext', async (t) => {
  const { keys, blobs, db, dataDir } = openTestStores(t, { MODELSHARE_STORAGE_INLINE_MAX_BYTES: '256KiB' });
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
  // A small one too: kept inline in the database (storage.inline_max_bytes), sealed all the same.
  const small = Buffer.from(`${marker} beam B-12 `.repeat(100));
  const inline = await blobs.put(Readable.from([small]), { dataKeyId: modelKey, maxBytes: 1e9, expected: { 'sha-256': crypto.createHash('sha256').update(small).digest() } });
  db.transaction(() => blobs.commit(inline))();
  t.true(blobs.info(inline.id)!.inline);

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

test('what people send through the API is not on disk in plaintext: names, comments, addresses, profiles, content', async (t) => {
  const server = await startServer(t);
  const marker = (what: string) => `${what}-${crypto.randomBytes(6).toString('hex')}`;
  const m = { name: marker('MODELNAME'), description: marker('DESCRIPTION'), comment: marker('COMMENT'), invitee: `${marker('invitee')}@partner.example`, first: marker('FIRSTNAME'), phone: '+41 44 987 65 43', about: marker('ABOUTME'), content: marker('CONTENT') };
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: m.name, description: m.description } });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const bytes = Buffer.from(`${m.content} `.repeat(20_000));
  const written = await writeOut(owner, modelId, 0, bytes, { 'modelshare-comment': encodeURIComponent(m.comment) });
  t.is(written.status, 201, JSON.stringify(written.body));
  t.is((await owner.call('POST', `/api/v1/models/${modelId}/invitations`, { json: { email: m.invitee, role: 'viewer' } })).status, 201);
  t.is((await owner.call('PATCH', '/api/v1/me', { json: { first_name: m.first, phone: m.phone, about_me: m.about } })).status, 200);
  // What was sent comes back: the markers are really stored.
  t.like((await owner.call('GET', `/api/v1/models/${modelId}`)).body, { name: m.name });
  t.like((await owner.call('GET', `/api/v1/models/${modelId}/packets`)).body, { packets: [{ comment: m.comment }] });

  server.stores.db.pragma('wal_checkpoint(PASSIVE)');
  const needles = [...Object.values(m), owner.email, 'Olive'].flatMap((v) => [Buffer.from(v, 'utf8'), Buffer.from(v, 'utf16le')]);
  const files = filesUnder(server.dataDir);
  t.true(files.some((f) => f.includes(`${path.sep}blobs${path.sep}`)), 'the packet is on disk');
  for (const file of files) {
    if (file.endsWith('master.key')) continue;
    const data = fs.readFileSync(file);
    for (const needle of needles) t.false(data.includes(needle), `${path.relative(server.dataDir, file)} contains ${needle.toString('utf8').replace(/\0/g, '')}`);
  }
});
