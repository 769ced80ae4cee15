/**
 * The profile and the privacy promises: a person edits their own profile (sealed at rest), their
 * organization's admins see it, others see only a display name; the export holds every field; erase
 * leaves none of the person's personal data in the database file.
 */
import fs from 'node:fs';
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';
import { filesUnder } from '../helpers/tmp.ts';

// The smallest valid PNG (1×1, transparent).
const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const profile = {
  first_name: 'Robert',
  last_name: 'Builder-Marker',
  display_name: 'Bobby M.',
  country: 'CH',
  preferred_language: 'de-CH',
  organization: 'Firm Engineering AG',
  job_title: 'Structural engineer',
  phone: '+41 44 123 45 67',
  about_me: 'Steel and timber frames; ABOUT-MARKER.',
  picture: `data:image/png;base64,${png}`,
};

test('profile: edited by its owner, seen by organization admins, a display name to everyone else', async (t) => {
  const world = await orgWorld(t);
  const { call, firm } = world;
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  const refusals: [string, string | undefined, unknown, number, string][] = [
    ['anonymous', undefined, { first_name: 'X' }, 401, 'unauthorized'],
    ['the e-mail address comes from the provider', bob.token, { email: 'me@else.example' }, 400, 'validation_failed'],
    ['a bad country', bob.token, { country: 'Switzerland' }, 400, 'validation_failed'],
    ['a picture that is not an image', bob.token, { picture: `data:image/png;base64,${Buffer.from('<svg/>').toString('base64')}` }, 400, 'validation_failed'],
    ['nothing to change', bob.token, {}, 400, 'validation_failed'],
  ];
  for (const [name, token, body, status, code] of refusals) {
    const res = await call('PATCH', '/api/v1/me', token, body);
    t.is(res.status, status, name);
    t.is(res.body['code'], code, name);
  }
  const patched = await call('PATCH', '/api/v1/me', bob.token, profile);
  // The picture leaves by its own address, so lists of people stay small.
  const pictureUrl = `/api/v1/people/${bob.id}/picture`;
  t.deepEqual(patched.body, { email: people.bob.email, ...profile, picture: pictureUrl });
  t.like((await call('PATCH', '/api/v1/me', bob.token, { job_title: null })).body, { job_title: null, first_name: 'Robert' });
  t.like((await call('GET', '/api/v1/me', bob.token)).body, { profile: { ...profile, picture: pictureUrl, job_title: null } });
  const fetchPicture = (token: string) => world.server.fetch(`${world.server.url}${pictureUrl}`, { headers: { authorization: `Bearer ${token}` } });
  for (const token of [bob.token, ada.token]) {
    const res = await fetchPicture(token);
    t.is(res.status, 200);
    t.is(res.headers.get('content-type'), 'image/png');
    t.deepEqual(Buffer.from(await res.arrayBuffer()), Buffer.from(png, 'base64'));
  }
  t.is((await fetchPicture(rita.token)).status, 404);

  const members = (await call('GET', `/api/v1/organizations/${firm}/members`, ada.token)).body['members'] as Record<string, unknown>[];
  t.like(members.find((m) => m['person_id'] === bob.id), { role: 'member', profile: { last_name: 'Builder-Marker', phone: '+41 44 123 45 67', picture: pictureUrl } });
  t.is((await call('GET', `/api/v1/organizations/${firm}/members`, rita.token)).status, 404);
  t.is((await call('GET', `/api/v1/organizations/${firm}/members`, bob.token)).status, 403);
  t.deepEqual(world.server.services.identity.publicPerson(bob.id), { id: bob.id, display_name: 'Bobby M.' });
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'profile.update' && e.actor_id === bob.id));
});

test('export holds every field; erase leaves no personal data of the person in the database file', async (t) => {
  const world = await orgWorld(t);
  const { call, firm, rival } = world;
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const rita = await world.login(people.rita);
  const bob = await world.login(people.bob);
  await call('PATCH', '/api/v1/me', bob.token, profile);
  await call('POST', '/api/v1/me/tokens', bob.token, { name: 'nightly TOKEN-MARKER', scopes: ['read'] });
  t.is((await call('POST', `/api/v1/organizations/${rival}/invitations`, rita.token, { email: people.bob.email })).status, 201);

  const exported = await call('GET', '/api/v1/me/export', bob.token);
  t.is(exported.status, 200);
  t.regex(exported.headers.get('content-disposition') ?? '', /attachment/);
  const data = exported.body as Record<string, any>;
  t.like(data['person'], { id: bob.id, email: people.bob.email, email_verified: true, name: 'Bob Builder' });
  t.deepEqual(data['profile'], { email: people.bob.email, ...profile });
  t.like(data['organizations'], [{ organization: { id: firm, name: 'Firm Engineering' }, role: 'member', sharing_enabled: true, joined_via: 'claims' }]);
  t.like(data['invitations'], [{ kind: 'organization', organization: { id: rival } }]);
  t.like(data['personal_tokens'], [{ name: 'nightly TOKEN-MARKER', scopes: ['read'] }]);
  t.like(data['desktop_logins'], [{ client_name: 'Test modeller' }]);
  t.true(data['sessions'].length >= 1);
  t.true(data['audit_events'].some((e: Record<string, unknown>) => e['action'] === 'profile.update'));
  t.false(JSON.stringify(data).includes(people.ada.email), 'nothing about others');

  // Collect every sealed value and blind index that is Bob's, as stored, before the erase.
  const db = world.server.stores.db;
  const bobsBytes: Buffer[] = [
    ...Object.values(db.prepare('SELECT identity_index, identity_sealed, email_index, email_sealed, name_sealed FROM people WHERE id = ?').get(bob.id) as Record<string, Buffer>),
    ...Object.values(db.prepare('SELECT fields_sealed, picture_sealed FROM profiles WHERE person_id = ?').get(bob.id) as Record<string, Buffer>),
    ...(db.prepare('SELECT details_sealed FROM audit_events WHERE actor_id = ? OR target_id = ?').all(bob.id, bob.id) as { details_sealed: Buffer }[]).map((r) => r.details_sealed),
    ...(db.prepare('SELECT email_sealed FROM organization_invitations').all() as { email_sealed: Buffer }[]).map((r) => r.email_sealed),
    ...(db.prepare('SELECT name_sealed FROM tokens WHERE person_id = ? AND name_sealed IS NOT NULL').all(bob.id) as { name_sealed: Buffer }[]).map((r) => r.name_sealed),
    ...(db.prepare('SELECT client_name_sealed FROM logins WHERE person_id = ?').all(bob.id) as { client_name_sealed: Buffer }[]).map((r) => r.client_name_sealed),
  ];
  t.true(bobsBytes.length > 12);
  // The search below would find them: before the erase, the database file holds them.
  db.pragma('wal_checkpoint(TRUNCATE)');
  const before = fs.readFileSync(world.server.config.database.path);
  t.true(bobsBytes.every((b) => before.includes(b)));

  const erased = await call('POST', `/api/v1/admin/people/${bob.id}/erase`, root.token);
  t.like(erased, { status: 200, body: { id: bob.id } });
  t.is((await call('POST', `/api/v1/admin/people/${bob.id}/erase`, root.token)).status, 404);
  t.like((await call('POST', `/api/v1/admin/people/${root.id}/erase`, root.token)).body, { code: 'forbidden' });
  t.is((await call('GET', '/api/v1/me', bob.token)).status, 401, 'his tokens are gone');
  t.deepEqual(world.server.services.identity.publicPerson(bob.id), { id: bob.id, display_name: 'former member' });
  const members = (await call('GET', `/api/v1/organizations/${firm}/members`, ada.token)).body['members'] as Record<string, unknown>[];
  t.false(members.some((m) => m['person_id'] === bob.id));
  t.like(db.prepare('SELECT email_sealed, name_sealed, email_index, erased_at FROM people WHERE id = ?').get(bob.id), { email_sealed: null, name_sealed: null, email_index: null });
  for (const table of ['sessions', 'tokens', 'logins', 'memberships', 'profiles', 'device_requests']) {
    t.is((db.prepare(`SELECT count(*) AS n FROM ${table} WHERE person_id = ?`).get(bob.id) as { n: number }).n, 0, table);
  }
  t.is((db.prepare('SELECT count(*) AS n FROM organization_invitations').get() as { n: number }).n, 0);
  // Audit rows keep what happened and the ids, without the sealed details.
  const kept = db.prepare('SELECT action, details_sealed FROM audit_events WHERE actor_id = ?').all(bob.id) as { action: string; details_sealed: Buffer | null }[];
  t.true(kept.length > 0);
  t.true(kept.every((r) => r.details_sealed === null));
  t.true(world.server.services.audit.recent(new Date(0)).some((e) => e.action === 'privacy.erase' && e.actor_email === people.root.email));

  // Not a byte of it remains in the database files: secure_delete overwrote it, the checkpoint emptied the WAL.
  const needles = [...bobsBytes, Buffer.from(people.bob.email), Buffer.from('Builder-Marker'), Buffer.from('ABOUT-MARKER'), Buffer.from('TOKEN-MARKER')];
  const files = filesUnder(world.server.dataDir).filter((f) => /modelshare\.db/.test(f));
  t.true(files.length > 0);
  for (const file of files) {
    const bytes = fs.readFileSync(file);
    for (const [i, needle] of needles.entries()) t.false(bytes.includes(needle), `${file} still holds value ${i}`);
  }
});
