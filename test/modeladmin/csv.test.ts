/**
 * User lists in CSV (issue 22): a round trip (export, edit, dry run, import) changes exactly the rows
 * edited; rows over the seat limit, for blocked addresses or otherwise not allowed are refused with
 * their reasons; a dry run changes nothing; exported cells a spreadsheet would run are neutralised.
 */
import test from 'ava';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { modelWorld } from '../helpers/models.ts';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';
import { startServer } from '../helpers/server.ts';

const firmPerson = (name: string) => ({ sub: name, email: `${name}@firm.example`, email_verified: true, name: name[0]!.toUpperCase() + name.slice(1) });

async function exportCsv(world: OrgWorld, token: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await world.server.fetch(`${world.server.url}/api/v1/organizations/${world.firm}/members/export`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

function stateOf(world: OrgWorld): string {
  const db = world.server.stores.db;
  return JSON.stringify([db.prepare('SELECT * FROM memberships ORDER BY 1, 2').raw().all(), db.prepare('SELECT id, status FROM organization_invitations ORDER BY id').all()]);
}

test('CSV round trip: export, edit, dry run, import changes exactly the rows edited and refuses the rest with reasons', async (t) => {
  const world = await orgWorld(t, {}, 3);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const dave = await world.login(firmPerson('dave'));
  await world.login(firmPerson('erin'));
  const rita = await world.login(people.rita);
  // A name a spreadsheet would run as a formula.
  t.is((await world.call('PATCH', '/api/v1/me', dave.token, { display_name: '=HYPERLINK("http://evil.example","x")' })).status, 200);
  t.is((await world.call('POST', `/api/v1/organizations/${world.firm}/blocked`, ada.token, { kind: 'address', value: 'mallory@partner.example' })).status, 201);

  // Refusals first: a member, another organization's admin, a bad file.
  t.is((await exportCsv(world, bob.token)).status, 403);
  t.is((await exportCsv(world, rita.token)).status, 404);
  const importAs = (token: string, csv: string, dryRun?: boolean) => world.call('POST', `/api/v1/organizations/${world.firm}/members/import`, token, dryRun === undefined ? { csv } : { csv, dry_run: dryRun });
  t.like(await importAs(bob.token, 'email\nx@firm.example\n'), { status: 403 });
  t.like(await importAs(ada.token, 'email,role\n"unclosed,admin\n'), { status: 400, body: { code: 'validation_failed' } });
  t.like(await importAs(ada.token, 'name,role\nBob,admin\n'), { status: 400, body: { code: 'validation_failed' } });

  const exported = await exportCsv(world, ada.token);
  t.is(exported.status, 200);
  t.regex(exported.type!, /^text\/csv/);
  const rows = parse(exported.text, { columns: true }) as Record<string, string>[];
  t.deepEqual(Object.keys(rows[0]!), ['name', 'email', 'role', 'seat', 'sharing']);
  t.deepEqual(rows.map((r) => [r['email'], r['role'], r['sharing']]), [
    ['ada@firm.example', 'admin', 'yes'], ['bob@firm.example', 'member', 'yes'], ['dave@firm.example', 'member', 'yes'], ['erin@firm.example', 'member', 'no'],
  ]);
  const daveRow = rows.find((r) => r['email'] === 'dave@firm.example')!;
  t.is(daveRow['name'], `'=HYPERLINK("http://evil.example","x")`, 'the formula is neutralised');

  // Edit: Bob becomes an admin, Erin would take a fourth seat, a partner is invited, a blocked
  // address, a would-be member who never signed in, a duplicate and a bad role.
  const edited = rows.map((r) => ({ ...r }));
  edited.find((r) => r['email'] === 'bob@firm.example')!['role'] = 'admin';
  edited.find((r) => r['email'] === 'erin@firm.example')!['sharing'] = 'yes';
  edited.push({ name: 'Carla', email: 'carla@partner.example', role: 'partner', seat: '', sharing: '' });
  edited.push({ name: 'Mallory', email: 'mallory@partner.example', role: 'partner', seat: '', sharing: '' });
  edited.push({ name: 'Zed', email: 'zed@firm.example', role: 'member', seat: '', sharing: 'yes' });
  edited.push({ name: 'Bob again', email: 'BOB@firm.example', role: 'partner', seat: '', sharing: '' });
  edited.push({ name: 'Odd', email: 'odd@partner.example', role: 'owner', seat: '', sharing: '' });
  const csv = stringify(edited, { header: true, columns: ['name', 'email', 'role', 'seat', 'sharing'] });

  const before = stateOf(world);
  const dry = await importAs(ada.token, csv);
  t.is(dry.status, 200, JSON.stringify(dry.body));
  t.is(stateOf(world), before, 'a dry run changes nothing');
  const planned = (dry.body['rows'] as Record<string, unknown>[]).map((r) => [r['email'], r['status'], (r['refused'] as Record<string, unknown> | undefined)?.['code'] ?? null]);
  t.deepEqual(planned, [
    ['ada@firm.example', 'unchanged', null],
    ['bob@firm.example', 'planned', null],
    ['dave@firm.example', 'unchanged', null],
    ['erin@firm.example', 'refused', 'no_seats_left'],
    ['carla@partner.example', 'planned', null],
    ['mallory@partner.example', 'refused', 'blocked'],
    ['zed@firm.example', 'refused', 'not_a_member'],
    ['bob@firm.example', 'refused', 'duplicate'],
    ['odd@partner.example', 'refused', 'invalid_role'],
  ]);
  t.like((dry.body['rows'] as Record<string, unknown>[])[1], { line: 3, action: 'update', changes: [{ field: 'role', from: 'member', to: 'admin' }] });
  t.like(dry.body, { dry_run: true, summary: { rows: 9, planned: 2, refused: 5, unchanged: 2 } });

  const done = await importAs(ada.token, csv, false);
  t.is(done.status, 200, JSON.stringify(done.body));
  t.deepEqual((done.body['rows'] as Record<string, unknown>[]).map((r) => r['status']), ['unchanged', 'applied', 'unchanged', 'refused', 'applied', 'refused', 'refused', 'refused', 'refused']);
  const after = parse((await exportCsv(world, ada.token)).text, { columns: true }) as Record<string, string>[];
  t.deepEqual(after.filter((r, i) => JSON.stringify(r) !== JSON.stringify(rows[i])).map((r) => [r['email'], r['role']]), [['bob@firm.example', 'admin']], 'exactly the edited row changed');
  const invitations = await world.call('GET', `/api/v1/organizations/${world.firm}/invitations`, ada.token);
  t.deepEqual((invitations.body['invitations'] as Record<string, unknown>[]).map((i) => i['email']), ['carla@partner.example']);

  // Audited row by row.
  const audit = world.server.stores.db.prepare("SELECT action, outcome, reason FROM audit_events WHERE action IN ('org.member_role', 'org.invite', 'org.import_row', 'org.import') ORDER BY at, rowid").all() as Record<string, unknown>[];
  t.is(audit.filter((a) => a['action'] === 'org.import_row' && a['outcome'] === 'denied').length, 5);
  t.true(audit.some((a) => a['action'] === 'org.member_role' && a['outcome'] === 'allowed'));
  t.true(audit.some((a) => a['action'] === 'org.invite' && a['outcome'] === 'allowed'));
  t.true(audit.some((a) => a['action'] === 'org.import' && a['outcome'] === 'allowed'));

  // Seats the file frees count before the seats it takes, in the dry run and the import alike.
  const swap = 'email,sharing\r\nerin@firm.example,yes\r\ndave@firm.example,no\r\n';
  t.deepEqual(((await importAs(ada.token, swap)).body['rows'] as Record<string, unknown>[]).map((r) => r['status']), ['planned', 'planned']);
  t.deepEqual(((await importAs(ada.token, swap, false)).body['rows'] as Record<string, unknown>[]).map((r) => r['status']), ['applied', 'applied']);
  t.is(world.server.services.orgs.repo.seatsUsed(world.firm), 3);
});

test("a model's members in CSV: export for its admins, import invites and changes roles, never above one's own; dry run first", async (t) => {
  const server = await startServer(t);
  const w = await modelWorld(t, server);
  const url = `/api/v1/models/${w.modelId}/members`;
  t.is((await w.viewer.call('GET', `${url}/export`)).status, 403);
  t.is((await w.outsider.call('GET', `${url}/export`)).status, 404);
  t.is((await w.editor.call('POST', `${url}/import`, { json: { csv: 'email,role\nx@y.example,viewer\n' } })).status, 403);
  const exported = await w.admin.call('GET', `${url}/export`);
  t.is(exported.status, 200);
  const rows = parse(exported.bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
  t.deepEqual(Object.keys(rows[0]!), ['name', 'email', 'role']);
  const roleOf = (who: { email: string }) => rows.find((r) => r['email'] === who.email)?.['role'];
  t.deepEqual([roleOf(w.owner), roleOf(w.admin), roleOf(w.editor), roleOf(w.viewer)], ['owner', 'admin', 'editor', 'viewer']);

  const edited = rows.map((r) => ({ ...r }));
  edited.find((r) => r['email'] === w.viewer.email)!['role'] = 'editor';
  edited.find((r) => r['email'] === w.owner.email)!['role'] = 'admin';
  edited.push({ name: 'New', email: 'newbie@elsewhere.example', role: 'editor' });
  edited.push({ name: 'Boss', email: 'boss@elsewhere.example', role: 'owner' });
  const csv = stringify(edited, { header: true, columns: ['name', 'email', 'role'] });
  const members = () => JSON.stringify(server.stores.db.prepare('SELECT * FROM model_members ORDER BY 2').raw().all()) + JSON.stringify(server.stores.db.prepare('SELECT id FROM model_invitations').all());
  const before = members();
  const dry = await w.admin.call('POST', `${url}/import`, { json: { csv } });
  t.is(dry.status, 200, JSON.stringify(dry.body));
  t.is(members(), before, 'a dry run changes nothing');
  const statusOf = (body: Record<string, unknown>, email: string) => (body['rows'] as Record<string, unknown>[]).find((r) => r['email'] === email);
  t.like(statusOf(dry.body, w.viewer.email), { status: 'planned', changes: [{ field: 'role', from: 'viewer', to: 'editor' }] });
  t.like(statusOf(dry.body, w.owner.email), { status: 'refused', refused: { code: 'role_above_own' } });
  t.like(statusOf(dry.body, 'newbie@elsewhere.example'), { status: 'planned', action: 'invite' });
  t.like(statusOf(dry.body, 'boss@elsewhere.example'), { status: 'refused', refused: { code: 'role_above_own' } });
  t.like(statusOf(dry.body, w.editor.email), { status: 'unchanged' });

  const done = await w.admin.call('POST', `${url}/import`, { json: { csv, dry_run: false } });
  t.like(done.body, { dry_run: false, summary: { applied: 2, refused: 2, unchanged: 2 } });
  const after = parse((await w.admin.call('GET', `${url}/export`)).bytes.toString('utf8'), { columns: true }) as Record<string, string>[];
  t.deepEqual(after.filter((r) => JSON.stringify(r) !== JSON.stringify(rows.find((o) => o['email'] === r['email']))).map((r) => [r['email'], r['role']]), [[w.viewer.email, 'editor']]);
  const invitations = await w.admin.call('GET', `/api/v1/models/${w.modelId}/invitations`);
  t.deepEqual((invitations.body['invitations'] as Record<string, unknown>[]).map((i) => [i['email'], i['role']]), [['newbie@elsewhere.example', 'editor']]);
});
