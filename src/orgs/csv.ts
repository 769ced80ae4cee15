/**
 * User lists in CSV (issue 22): an organization's members and partners out (name, e-mail, role,
 * seat, sharing switch) and in, to invite partners, change roles and switch sharing in bulk. An
 * import is planned first, row by row, with the same rules the single calls apply (blocks, seats,
 * invitation limits, no change to one's own role); a dry run answers the plan and changes nothing.
 * A real run carries out the plan through the single calls, so each row is audited as they audit.
 * RFC 4180 by csv-parse / csv-stringify; exported cells that a spreadsheet would run as a formula
 * are neutralised.
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import { normalizeEmail } from '../identity/people.ts';
import type { OrgRole } from './policy.ts';
import type { Organization } from './repo.ts';
import type { OrganizationsService } from './service.ts';

/** The most rows one import takes. */
export const maxImportRows = 2000;

/** A cell a spreadsheet would run as a formula (or that starts with a tab or CR) gets a leading `'` (OWASP). */
export function neutralise(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}

export function toCsv(header: string[], rows: string[][]): string {
  return stringify([header, ...rows.map((r) => r.map(neutralise))], { record_delimiter: '\r\n' });
}

/** Parses an uploaded list; every row an object keyed by the lower-cased header. */
export function fromCsv(text: string, required: string[]): Record<string, string>[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, { columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()), skip_empty_lines: true, trim: true, bom: true, relax_column_count: false }) as Record<string, string>[];
  } catch (error) {
    throw new AppError('validation_failed', `The CSV cannot be read: ${(error as Error).message.slice(0, 200)}`, { extra: { errors: [{ field: 'csv', message: 'not RFC 4180 CSV' }] } });
  }
  const first = records[0];
  const missing = first ? required.filter((c) => !(c in first)) : required;
  if (missing.length) throw new AppError('validation_failed', `The CSV needs the columns ${required.join(', ')}`, { extra: { errors: [{ field: 'csv', message: `missing ${missing.join(', ')}` }] } });
  if (records.length > maxImportRows) throw new AppError('payload_too_large', `At most ${maxImportRows} rows an import`, { extra: { limit: maxImportRows } });
  return records;
}

/** `yes`/`no` (and true/false, on/off, 1/0); empty: leave as it is. */
export function parseSwitch(value: string | undefined): boolean | undefined | 'invalid' {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return undefined;
  if (['yes', 'true', 'on', '1'].includes(v)) return true;
  if (['no', 'false', 'off', '0'].includes(v)) return false;
  return 'invalid';
}

export interface Change {
  field: string;
  from: unknown;
  to: unknown;
}

export interface PlannedRow {
  /** The line in the file (the header is line 1). */
  line: number;
  email: string;
  action: 'update' | 'invite' | 'none';
  changes: Change[];
  status: 'planned' | 'unchanged' | 'refused' | 'applied';
  refused?: { code: string; reason: string };
}

const orgRoles: readonly OrgRole[] = ['admin', 'member', 'partner'];
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export class OrganizationCsv {
  readonly #orgs: OrganizationsService;

  constructor(orgs: OrganizationsService) {
    this.#orgs = orgs;
  }

  export(org: Organization): string {
    const rows = this.#orgs.repo.members(org.id).map((m) => {
      const person = this.#orgs.identity.people.get(m.personId);
      const erased = !person || person.erasedAt !== null;
      const yesNo = (b: boolean) => (b ? 'yes' : 'no');
      return [erased ? 'former member' : this.#orgs.identity.publicPerson(m.personId).display_name, erased ? '' : (person.email ?? ''), m.role, yesNo(m.sharingEnabled), yesNo(m.sharingEnabled)];
    });
    rows.sort((a, b) => a[1]!.localeCompare(b[1]!) || a[0]!.localeCompare(b[0]!));
    return toCsv(['name', 'email', 'role', 'seat', 'sharing'], rows);
  }

  /** Plans the import; with `dryRun` false, carries it out. Seats freed by the file count before seats it takes. */
  import(actor: Actor, org: Organization, csv: string, dryRun: boolean, source: string): { dry_run: boolean; rows: PlannedRow[]; summary: Record<string, number> } {
    const records = fromCsv(csv, ['email']);
    const plan: PlannedRow[] = [];
    const seen = new Set<string>();
    const members = this.#orgs.repo.members(org.id);
    let used = this.#orgs.repo.seatsUsed(org.id);
    // Turning sharing off frees a seat for a later row: count every "off" of the file first.
    const planned: { row: PlannedRow; sharing: boolean | undefined; role: OrgRole | undefined }[] = [];
    records.forEach((record, i) => {
      const line = i + 2;
      const email = normalizeEmail(record['email'] ?? '');
      const row: PlannedRow = { line, email, action: 'none', changes: [], status: 'planned' };
      const refuse = (code: string, reason: string) => Object.assign(row, { status: 'refused', refused: { code, reason } });
      plan.push(row);
      const roleText = (record['role'] ?? '').trim().toLowerCase();
      const sharing = parseSwitch(record['sharing']);
      if (!emailPattern.test(email)) return refuse('invalid_email', 'not an e-mail address');
      if (seen.has(email)) return refuse('duplicate', 'the address is on an earlier row');
      seen.add(email);
      if (roleText !== '' && !orgRoles.includes(roleText as OrgRole)) return refuse('invalid_role', 'role must be admin, member or partner');
      if (sharing === 'invalid') return refuse('invalid_sharing', 'sharing must be yes or no');
      const role = roleText === '' ? undefined : (roleText as OrgRole);
      if (this.#orgs.blocks.covering(org.id, email).active) return refuse('blocked', 'the organization blocks this address');
      const person = this.#orgs.identity.people.findByEmail(email);
      const member = person ? members.find((m) => m.personId === person.id) : undefined;
      if (!member) {
        if (role !== undefined && role !== 'partner') return refuse('not_a_member', 'members and admins join by signing in; only partners are invited');
        if (this.#orgs.invitations.pendingOf(org).some((inv) => inv.email === email)) return refuse('already_invited', 'the address already has a pending invitation');
        try {
          this.#orgs.invitations.assertLimits(actor.person.id, email);
        } catch (error) {
          if (error instanceof AppError) return refuse('invitation_limit', error.message);
          throw error;
        }
        row.action = 'invite';
        row.changes.push({ field: 'invitation', from: null, to: 'partner' });
        return;
      }
      if (role !== undefined && role !== member.role) {
        if (member.personId === actor.person.id) return refuse('own_role', 'you cannot change your own role');
        row.changes.push({ field: 'role', from: member.role, to: role });
      }
      if (sharing !== undefined && sharing !== member.sharingEnabled) {
        row.changes.push({ field: 'sharing', from: member.sharingEnabled, to: sharing });
        if (!sharing) used--;
      }
      row.action = row.changes.length ? 'update' : 'none';
      if (!row.changes.length) row.status = 'unchanged';
      planned.push({ row, sharing: row.changes.some((c) => c.field === 'sharing') ? (sharing as boolean) : undefined, role: row.changes.some((c) => c.field === 'role') ? role : undefined });
    });
    for (const p of planned) {
      if (p.sharing !== true) continue;
      if (used >= org.seats) Object.assign(p.row, { status: 'refused', refused: { code: 'no_seats_left', reason: `all ${org.seats} sharing seats would be in use` } });
      else used++;
    }
    if (!dryRun) this.#apply(actor, org, plan, planned, source);
    this.#orgs.record(actor.person, { action: dryRun ? 'org.import_dry_run' : 'org.import', outcome: 'allowed', target: { type: 'organization', id: org.id }, source, details: { rows: plan.length, refused: plan.filter((r) => r.status === 'refused').length } });
    const count = (s: PlannedRow['status']) => plan.filter((r) => r.status === s).length;
    return { dry_run: dryRun, rows: plan, summary: { rows: plan.length, planned: count('planned'), applied: count('applied'), unchanged: count('unchanged'), refused: count('refused') } };
  }

  /** Carries the plan out through the single calls (each audits its row): sharing off first, so the seats it frees are there. */
  #apply(actor: Actor, org: Organization, plan: PlannedRow[], planned: { row: PlannedRow; sharing: boolean | undefined; role: OrgRole | undefined }[], source: string): void {
    for (const row of plan) {
      if (row.status === 'refused') this.#orgs.record(actor.person, { action: 'org.import_row', outcome: 'denied', reason: row.refused!.code, target: { type: 'organization', id: org.id }, source, details: { line: row.line, email: row.email } });
    }
    const run = (row: PlannedRow, work: () => void) => {
      if (row.status !== 'planned') return;
      try {
        work();
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        Object.assign(row, { status: 'refused', refused: { code: error.code, reason: error.message } });
      }
    };
    const ordered = [...planned.filter((p) => p.sharing === false), ...planned.filter((p) => p.sharing !== false)];
    for (const p of ordered) {
      run(p.row, () => {
        const person = this.#orgs.identity.people.findByEmail(p.row.email)!;
        this.#orgs.admin.updateMember(actor, org, person.id, { role: p.role, sharing_enabled: p.sharing }, source);
      });
    }
    for (const row of plan) {
      if (row.action === 'invite') run(row, () => void this.#orgs.invitations.invite(actor, org, row.email, source));
      if (row.status === 'planned') row.status = 'applied';
    }
  }
}
