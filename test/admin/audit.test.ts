/**
 * The audit log for admins: an organization admin reads only the entries of their organization
 * (and personal data only of its members), and filters and keyset pages are exact. The export of
 * 100,000 entries is in audit-export.test.ts, in a worker of its own.
 */
import test from 'ava';
import { csvCell } from '../../src/audit/export.ts';
import { insertEntries } from '../helpers/audit.ts';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';

type Row = Record<string, unknown>;

async function pages(world: OrgWorld, token: string, path: string, limit: number): Promise<Row[]> {
  const rows: Row[] = [];
  let next: string | null = null;
  do {
    const res = await world.call('GET', `${path}${path.includes('?') ? '&' : '?'}limit=${limit}${next ? `&next=${next}` : ''}`, token);
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    rows.push(...(res.body['entries'] as Row[]));
    next = res.body['next'] as string | null;
  } while (next);
  return rows;
}

test('CSV cells follow RFC 4180 and never start a formula', (t) => {
  t.is(csvCell('plain'), 'plain');
  t.is(csvCell('a,b'), '"a,b"');
  t.is(csvCell('say "hi"'), '"say ""hi"""');
  t.is(csvCell('two\r\nlines'), '"two\r\nlines"');
  t.is(csvCell('=HYPERLINK("http://evil")'), `"'=HYPERLINK(""http://evil"")"`);
  for (const lead of ['=', '+', '-', '@', '\t']) t.true(csvCell(`${lead}1+1`).replace(/^"/, '').startsWith(`'${lead}`), JSON.stringify(lead));
  t.is(csvCell(null), '');
});

test('an organization admin reads only the entries of their organization, and personal data only of its members', async (t) => {
  const world = await orgWorld(t);
  const root = await world.login(people.root);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  const firmModel = String((await world.call('POST', '/api/v1/models', bob.token, { name: 'Firm tower' })).body['id']);
  const rivalModel = String((await world.call('POST', '/api/v1/models', rita.token, { name: 'Rival tower' })).body['id']);
  t.is((await world.call('GET', `/api/v1/models/${firmModel}`, rita.token)).status, 404, "Rita's probe of Firm's model is audited");

  // Refusals first: neither admin reads or exports the other's log.
  t.is((await world.call('GET', `/api/v1/organizations/${world.rival}/audit`, ada.token)).status, 404);
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}/audit/export`, rita.token)).status, 404);
  t.is((await world.call('GET', `/api/v1/organizations/${world.firm}/audit`, bob.token)).status, 403);
  t.is((await world.call('GET', '/api/v1/admin/audit', ada.token)).status, 403);

  const firmMembers = new Set([ada.id, bob.id]);
  const inFirm = (e: Row) =>
    (e['target_type'] === 'organization' && e['target_id'] === world.firm) ||
    (e['target_type'] === 'model' && e['target_id'] === firmModel) ||
    (e['target_type'] === 'person' && firmMembers.has(String(e['target_id'])) && firmMembers.has(String(e['actor_id'])));
  const firmLog = await pages(world, ada.token, `/api/v1/organizations/${world.firm}/audit`, 5);
  t.true(firmLog.length > 0);
  t.true(firmLog.every(inFirm), JSON.stringify(firmLog.filter((e) => !inFirm(e))));
  const created = firmLog.find((e) => e['action'] === 'model.create' && e['target_id'] === firmModel)!;
  t.like(created, { actor_id: bob.id, actor_email: 'bob@firm.example', personal_data: 'shown' });
  const probe = firmLog.find((e) => e['actor_id'] === rita.id && e['target_id'] === firmModel)!;
  t.like(probe, { outcome: 'denied', actor_email: null, source: null, details: null, personal_data: 'withheld' });

  const rivalLog = await pages(world, rita.token, `/api/v1/organizations/${world.rival}/audit`, 50);
  t.true(rivalLog.some((e) => e['target_id'] === rivalModel));
  t.false(JSON.stringify(rivalLog).includes(firmModel));
  t.false(JSON.stringify(rivalLog).includes(world.firm));
  t.false(JSON.stringify(rivalLog).includes('bob@firm.example'));
  const rivalCsv = await (await world.server.fetch(`${world.server.url}/api/v1/organizations/${world.rival}/audit/export`, { headers: { authorization: `Bearer ${rita.token}` } })).text();
  t.false(rivalCsv.includes(firmModel) || rivalCsv.includes('bob@firm.example'));

  const everything = await pages(world, root.token, '/api/v1/admin/audit', 200);
  t.true(everything.some((e) => e['target_id'] === firmModel) && everything.some((e) => e['target_id'] === rivalModel));
  t.true(everything.find((e) => e['actor_id'] === rita.id && e['target_id'] === firmModel)!['actor_email'] === 'rita@rival.example', 'server admins see it all');
});

test('filters and keyset pages are exact, through ties in time', async (t) => {
  const world = await orgWorld(t);
  const root = await world.login(people.root);
  const base = Date.parse('2030-01-01T00:00:00.000Z');
  const actions = ['test.alpha', 'test.beta', 'other.gamma'];
  const outcomes = ['allowed', 'denied', 'failed'];
  // 600 entries, three at each instant, so paging must break ties by id.
  const made = Array.from({ length: 600 }, (_, i) => ({ at: new Date(base + Math.floor(i / 3) * 1000).toISOString(), action: actions[i % 3]!, outcome: outcomes[(i >> 1) % 3]!, actor: i % 5 === 0 ? 'p_actor' : null, target: (i % 7 === 0 ? ['model', 'm_target'] : null) as [string, string] | null }));
  const ids = insertEntries(world, made.length, (i) => made[i]!);
  const expected = (keep: (e: (typeof made)[number]) => boolean) =>
    made.map((e, i) => ({ ...e, id: ids[i]! })).filter(keep).sort((a, b) => (a.at === b.at ? (a.id < b.id ? 1 : -1) : a.at < b.at ? 1 : -1)).map((e) => e.id);
  const ofTest = (q: string, limit: number) => pages(world, root.token, `/api/v1/admin/audit?${q}`, limit).then((rows) => rows.map((r) => String(r['id'])).filter((id) => ids.includes(id)));

  t.deepEqual(await ofTest('action=test.alpha', 17), expected((e) => e.action === 'test.alpha'));
  t.deepEqual(await ofTest('action=test.*&outcome=denied', 9), expected((e) => e.action.startsWith('test.') && e.outcome === 'denied'));
  t.deepEqual(await ofTest('actor_id=p_actor', 13), expected((e) => e.actor === 'p_actor'));
  t.deepEqual(await ofTest('target_type=model&target_id=m_target', 11), expected((e) => e.target?.[1] === 'm_target'));
  const from = new Date(base + 50_000).toISOString();
  const to = new Date(base + 60_000).toISOString();
  t.deepEqual(await ofTest(`from=${from}&to=${to}`, 4), expected((e) => e.at >= from && e.at < to));
  t.deepEqual(await ofTest(`from=2030-01-01T01:00:50%2B01:00&to=${to}`, 4), expected((e) => e.at >= from && e.at < to), 'offsets are read as instants');
  t.deepEqual(await ofTest('outcome=failed', 200), expected((e) => e.outcome === 'failed'));
  t.is((await world.call('GET', '/api/v1/admin/audit?outcome=maybe', root.token)).status, 400);
  t.is((await world.call('GET', '/api/v1/admin/audit?from=yesterday', root.token)).status, 400);
});
