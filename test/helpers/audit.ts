/** Audit entries for tests, written straight into the table as AuditService seals them. */
import crypto from 'node:crypto';
import { seal } from '../../src/crypto/sealed.ts';
import type { OrgWorld } from './orgs.ts';

/** Writes `count` entries straight into the table, in one transaction, as AuditService seals them. */
export function insertEntries(world: OrgWorld, count: number, make: (i: number) => { at: string; action: string; outcome: string; actor?: string | null; target?: [string, string] | null; details?: Record<string, unknown> }): string[] {
  const { db, keys } = world.server.stores;
  const keyId = keys.singleton('personal');
  const insert = db.prepare('INSERT INTO audit_events (id, at, action, outcome, actor_id, target_type, target_id, reason, details_sealed) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)');
  const ids: string[] = [];
  const started = Date.now();
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const e = make(i);
      const id = `${String(i).padStart(8, '0')}${crypto.randomBytes(4).toString('hex')}`;
      const sealed = seal(keys, keyId, { table: 'audit_events', column: 'details', row: id }, JSON.stringify(e.details ?? {}));
      insert.run(id, e.at, e.action, e.outcome, e.actor ?? null, e.target?.[0] ?? null, e.target?.[1] ?? null, sealed);
      ids.push(id);
    }
  })();
  // The insert held the event loop; the test clock catches up with the real time the provider signs by.
  world.clock.advance(Date.now() - started);
  return ids;
}

