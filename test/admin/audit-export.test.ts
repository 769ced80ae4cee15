/**
 * The audit export streams: 100,000 entries leave as CSV (with its header line, formulas neutralised)
 * and as JSON lines, while what the process keeps alive stays bounded. In a file of its own, so that
 * its long insert holds no other test's event loop.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import test from 'ava';
import { csvColumns } from '../../src/audit/export.ts';
import { insertEntries } from '../helpers/audit.ts';
import { orgWorld, people } from '../helpers/orgs.ts';

type Row = Record<string, unknown>;

test('the export streams 100,000 entries in bounded memory, as CSV with its header, and as JSON lines', async (t) => {
  t.timeout(300_000);
  const world = await orgWorld(t);
  const count = 100_000;
  const padding = 'x'.repeat(300);
  insertEntries(world, count, (i) => ({
    at: new Date(Date.parse('2031-01-01T00:00:00Z') + i).toISOString(),
    action: 'bulk.entry',
    outcome: 'allowed',
    actor: `p_${i % 100}`,
    target: ['model', `m_${i % 1000}`],
    details: { actor_email: i === 0 ? '=cmd|calc' : `person${i % 100}@firm.example`, source: '10.0.0.1', padding },
  }));
  // Signed in after the long insert, so that no kept-alive connection went stale meanwhile.
  const root = await world.login(people.root);

  // What stays alive is measured after a full collection, so that garbage not yet collected does not count.
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  const live = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external;
  const before = process.memoryUsage();
  let peakHeap = live(before);
  let peakRss = before.rss;
  let sampledAt = 0;
  const res = await world.server.fetch(`${world.server.url}/api/v1/admin/audit/export?action=bulk.entry`, { headers: { authorization: `Bearer ${root.token}` } });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/csv/);
  t.regex(res.headers.get('content-disposition') ?? '', /attachment; filename="audit-.*\.csv"/);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let bytes = 0;
  let lines = 0;
  let head = '';
  let formula = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    const text = decoder.decode(value, { stream: true });
    if (head.length < 2000) head += text.slice(0, 2000);
    if (!formula && text.includes('cmd|calc')) formula = text.slice(text.indexOf('cmd|calc') - 3, text.indexOf('cmd|calc') + 8);
    for (let i = text.indexOf('\r\n'); i !== -1; i = text.indexOf('\r\n', i + 2)) lines++;
    if (bytes - sampledAt > 2 * 1048576) {
      sampledAt = bytes;
      gc();
      const now = process.memoryUsage();
      peakHeap = Math.max(peakHeap, live(now));
      peakRss = Math.max(peakRss, now.rss);
    }
  }
  const mib = (n: number) => Math.round(n / 1048576);
  t.log(`exported ${mib(bytes)} MiB in ${lines} lines; heap and buffers grew at most ${mib(peakHeap - live(before))} MiB, RSS ${mib(peakRss - before.rss)} MiB`);
  t.is(head.split('\r\n')[0], csvColumns.join(','));
  t.is(head.split('\r\n')[0], 'id,at,action,outcome,actor_id,actor_email,target_type,target_id,reason,source,details,personal_data');
  t.is(lines, count + 1, 'the header and every entry, each on its own line');
  t.true(bytes > 40 * 1048576, 'the export is far larger than the memory bound below');
  t.is(formula, ",'=cmd|calc", 'a cell that would start a formula is neutralised');
  // Holding the export in memory would take far more than its 40+ MiB; streaming keeps a few chunks alive.
  t.true(peakHeap - live(before) < 16 * 1048576, `heap grew by ${mib(peakHeap - live(before))} MiB`);

  const jsonl = await world.server.fetch(`${world.server.url}/api/v1/admin/audit/export?format=jsonl&action=bulk.entry&from=2031-01-01T00:01:39.990Z`, { headers: { authorization: `Bearer ${root.token}` } });
  t.regex(jsonl.headers.get('content-type') ?? '', /^application\/jsonl/);
  const entries = (await jsonl.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Row);
  t.is(entries.length, 10);
  t.like(entries[0], { action: 'bulk.entry', at: '2031-01-01T00:01:39.999Z', source: '10.0.0.1', personal_data: 'shown' });
  t.is(world.server.stores.db.prepare("SELECT count(*) FROM audit_events WHERE action = 'audit.export' AND actor_id = ?").pluck().get(root.id), 2, 'each export is audited');
});
