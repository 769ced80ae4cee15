/**
 * The admin lists on a large organization: a page of 10,000 models (BENCH_MODELS) sorted by name or
 * searched by sealed name, against a page by creation time (a plain keyset read) measured in the same
 * run; and audit log pages over BENCH_AUDIT entries (default 500,000), first and deep, server-wide
 * and for one organization. Prints milliseconds per page and the ratio to the baseline.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditQuery } from '../src/audit/query.ts';
import { openStores } from '../src/boot.ts';
import { systemClock } from '../src/clock.ts';
import { loadConfig } from '../src/config/load.ts';
import { seal } from '../src/crypto/sealed.ts';
import { People } from '../src/identity/people.ts';
import { createLogger } from '../src/log.ts';
import { ModelList, type ModelListQuery } from '../src/sharing/admin-list.ts';
import { ModelsRepo } from '../src/sharing/models-repo.ts';

function time(work: () => unknown, rounds = 5): number {
  work();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) work();
  return Number(process.hrtime.bigint() - started) / 1e6 / rounds;
}

export async function adminListsBench(): Promise<void> {
  const modelCount = Number(process.env['BENCH_MODELS'] ?? 10_000);
  const auditCount = Number(process.env['BENCH_AUDIT'] ?? 500_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelshare-bench-'));
  try {
    const config = loadConfig({ env: { MODELSHARE_DATA_DIR: path.join(dir, 'data') } });
    const stores = openStores(config, createLogger('error'));
    const { db, keys } = stores;
    const owner = new People(db, keys, systemClock).signIn({ issuer: 'bench', subject: 'owner', email: 'owner@bench.example', emailVerified: true, name: 'Owner', serverAdmin: false });
    const repo = new ModelsRepo(db, keys);
    const words = ['Bridge', 'Tower', 'Hall', 'Deck', 'Roof', 'Pier', 'Frame', 'Truss'];
    db.transaction(() => {
      for (let i = 0; i < modelCount; i++) {
        const id = `m_${crypto.randomBytes(12).toString('hex')}`;
        repo.insert({ id, organizationId: 'o_bench', dataKeyId: keys.create('model'), name: `${words[i % 8]} ${i}`, description: null, ownerId: owner.id, createdAt: new Date(1_700_000_000_000 + i * 1000).toISOString() });
      }
    })();
    const list = new ModelList(db, keys);
    const query = (q: Partial<ModelListQuery>): ModelListQuery => ({ organizationId: 'o_bench', deleted: 'exclude', search: undefined, sort: 'created', order: 'desc', after: undefined, limit: 50, ...q });
    const baseline = time(() => list.page(query({})));
    const cold = (() => {
      const fresh = new ModelList(db, keys);
      const started = process.hrtime.bigint();
      fresh.page(query({ sort: 'name', order: 'asc' }));
      return Number(process.hrtime.bigint() - started) / 1e6;
    })();
    const rows: [string, number][] = [
      ['page by created (keyset, baseline)', baseline],
      ['page by size (keyset over stats)', time(() => list.page(query({ sort: 'size' })))],
      ['page by name, names not yet opened', cold],
      ['page by name, names cached', time(() => list.page(query({ sort: 'name', order: 'asc' })))],
      ['search "tower" (1 in 8), by created', time(() => list.page(query({ search: 'tower' })))],
      ['search "9999" (1 match), by created', time(() => list.page(query({ search: '9999' })))],
    ];
    console.log(`\nadmin model lists: ${modelCount} models in one organization, pages of 50`);
    for (const [name, ms] of rows) console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(8)} ms  ${(ms / baseline).toFixed(1)}× baseline`);

    const keyId = keys.singleton('personal');
    const firstModel = db.prepare('SELECT id FROM models LIMIT 1').pluck().get() as string;
    const insert = db.prepare('INSERT INTO audit_events (id, at, action, outcome, actor_id, target_type, target_id, reason, details_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)');
    db.transaction(() => {
      for (let i = 0; i < auditCount; i++) {
        const id = crypto.randomBytes(12).toString('hex');
        const details = seal(keys, keyId, { table: 'audit_events', column: 'details', row: id }, JSON.stringify({ actor_email: 'someone@bench.example', source: '10.0.0.1' }));
        // One entry in a hundred is about the benchmark organization's models; the rest about others.
        const target = i % 100 === 0 ? ['model', firstModel] : ['model', `m_other_${i % 5000}`];
        insert.run(id, new Date(1_700_000_000_000 + i * 10).toISOString(), ['auth.sign_in', 'model.create', 'org.view'][i % 3], 'allowed', owner.id, target[0], target[1], details);
      }
    })();
    const audit = new AuditQuery(db, keys);
    const first = audit.page({ kind: 'server' }, {}, undefined, 50);
    const deep = { at: new Date(1_700_000_000_000 + (auditCount / 10) * 10).toISOString(), id: 'z' };
    const auditBaseline = time(() => audit.page({ kind: 'server' }, {}, undefined, 50));
    const auditRows: [string, number][] = [
      ['server-wide, first page (baseline)', auditBaseline],
      ['server-wide, a page deep in the log', time(() => audit.page({ kind: 'server' }, {}, deep, 50))],
      ['action=org.view', time(() => audit.page({ kind: 'server' }, { action: 'org.view' }, deep, 50))],
      ['action prefix auth.*', time(() => audit.page({ kind: 'server' }, { actionPrefix: 'auth.' }, deep, 50))],
      ['one organization (1% of entries), first page', time(() => audit.page({ kind: 'organization', id: 'o_bench' }, {}, undefined, 50))],
    ];
    console.log(`\naudit log pages: ${auditCount} entries, pages of 50 (first page held ${first.entries.length})`);
    for (const [name, ms] of auditRows) console.log(`${name.padEnd(44)} ${ms.toFixed(2).padStart(8)} ms  ${(ms / auditBaseline).toFixed(1)}× baseline`);
    console.log(`peak RSS ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MiB`);
    stores.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
