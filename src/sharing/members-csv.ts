/**
 * A model's members in CSV (issue 22): out (name, email, role) for the model's admins, and in, to
 * invite people and change roles in bulk, planned first (dry run) under the same rules as the single
 * calls: never a role above one's own nor to or from owner, blocked addresses refused, invitation
 * limits kept. A real run carries the plan out through those calls, which audit each row.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { People } from '../identity/people.ts';
import { normalizeEmail } from '../identity/people.ts';
import { fromCsv, toCsv, type PlannedRow } from '../orgs/csv.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { AuditService } from '../audit/audit-service.ts';
import type { ModelInvitations } from './invitations.ts';
import type { ModelsService } from './models-service.ts';
import { policy, rank, type ModelRole } from './policy.ts';

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const invitable: readonly ModelRole[] = ['admin', 'editor', 'viewer'];

export class ModelMembersCsv {
  constructor(
    readonly d: { models: ModelsService; invitations: ModelInvitations; people: People; gate: SharingGate; audit: AuditService; displayName(id: string): string; assertLimits(senderId: string, email: string): void },
  ) {}

  export(actor: Actor, modelId: string, source: string): string {
    this.d.models.locate(actor, modelId, 'model.members_export', policy.manage, source);
    const rows = this.d.models.members(actor, modelId, source).map((m) => {
      const person = this.d.people.get(m.personId);
      return [this.d.displayName(m.personId), person && !person.erasedAt ? (person.email ?? '') : '', m.role];
    });
    rows.sort((a, b) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!));
    this.#audit(actor, 'model.members_export', modelId, source, 'allowed');
    return toCsv(['name', 'email', 'role'], rows);
  }

  #audit(actor: Actor, action: string, modelId: string, source: string, outcome: 'allowed' | 'denied', reason?: string, details?: Record<string, unknown>) {
    this.d.audit.record({ action, outcome, reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details });
  }

  import(actor: Actor, modelId: string, csv: string, dryRun: boolean, source: string): { dry_run: boolean; rows: PlannedRow[]; summary: Record<string, number> } {
    const { model, standing } = this.d.models.locate(actor, modelId, 'model.members_import', policy.manage, source);
    const records = fromCsv(csv, ['email', 'role']);
    const members = this.d.models.members(actor, modelId, source);
    const pending = new Set(this.d.invitations.pending(actor, modelId, source).map((i) => i.email));
    const seen = new Set<string>();
    const plan: PlannedRow[] = records.map((record, i) => {
      const email = normalizeEmail(record['email'] ?? '');
      const row: PlannedRow = { line: i + 2, email, action: 'none', changes: [], status: 'planned' };
      const refuse = (code: string, reason: string) => Object.assign(row, { status: 'refused', refused: { code, reason } });
      const role = (record['role'] ?? '').trim().toLowerCase() as ModelRole;
      if (!emailPattern.test(email)) return refuse('invalid_email', 'not an e-mail address');
      if (seen.has(email)) return refuse('duplicate', 'the address is on an earlier row');
      seen.add(email);
      if (!['owner', ...invitable].includes(role)) return refuse('invalid_role', 'role must be owner, admin, editor or viewer');
      const person = this.d.people.findByEmail(email);
      const member = person ? members.find((m) => m.personId === person.id) : undefined;
      if (member) {
        if (member.role === role) return Object.assign(row, { status: 'unchanged' });
        if (!policy.setRole(standing, member.role, role)) return refuse('role_above_own', 'not above your own role, and never to or from owner (transfer ownership instead)');
        row.action = 'update';
        row.changes.push({ field: 'role', from: member.role, to: role });
        return row;
      }
      if (role === 'owner' || rank(role) > rank(standing.role)) return refuse('role_above_own', 'nobody is invited as owner, nor above your own role');
      if (pending.has(email)) return refuse('already_invited', 'the address already has a pending invitation to this model');
      try {
        this.d.gate.assertMayInvite(model.organizationId, email);
        this.d.assertLimits(actor.person.id, email);
      } catch (error) {
        if (error instanceof AppError) return refuse(error.code, error.message);
        throw error;
      }
      row.action = 'invite';
      row.changes.push({ field: 'invitation', from: null, to: role });
      return row;
    });
    if (!dryRun) {
      for (const row of plan) {
        if (row.status === 'refused') this.#audit(actor, 'model.import_row', modelId, source, 'denied', row.refused!.code, { line: row.line });
        if (row.status !== 'planned') continue;
        const to = row.changes[0]!.to as Exclude<ModelRole, 'owner'>;
        try {
          if (row.action === 'update') this.d.models.setRole(actor, modelId, this.d.people.findByEmail(row.email)!.id, to, source);
          else this.d.invitations.invite(actor, modelId, row.email, to, source);
          row.status = 'applied';
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          Object.assign(row, { status: 'refused', refused: { code: error.code, reason: error.message } });
        }
      }
    }
    this.#audit(actor, dryRun ? 'model.members_import_dry_run' : 'model.members_import', modelId, source, 'allowed', undefined, { rows: plan.length });
    const count = (s: PlannedRow['status']) => plan.filter((r) => r.status === s).length;
    return { dry_run: dryRun, rows: plan, summary: { rows: plan.length, planned: count('planned'), applied: count('applied'), unchanged: count('unchanged'), refused: count('refused') } };
  }
}
