/**
 * The e-mail digest of notices to organization admins (issue 22; job `notice-digest`, off unless
 * `jobs.schedules.notice_digest` is set, and only where SMTP is). For each organization it compares
 * the notices with the keys the last run saw (table `notice_digests`); only when one is new does a
 * plain-text digest of them all go to each admin with a verified address, and the send is audited.
 * A failed send leaves the keys as they were, so the next run tries again.
 */
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Db } from '../db/open.ts';
import type { Log } from '../log.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Organization } from '../orgs/repo.ts';
import type { OrganizationsService } from '../orgs/service.ts';
import type { Notice, Notices } from './notices.ts';

export interface DigestDeps {
  db: Db;
  clock: Clock;
  log: Log;
  audit: AuditService;
  orgs: OrganizationsService;
  notices: Notices;
  mailer: Mailer;
  publicUrl: string;
}

type Ref = { id: string; name: string };
type PersonRef = { person_id: string; display_name: string; email: string | null };

/** What makes a notice the same notice on the next run: its kind and the ids it is about (a new lock is a new notice). */
export function noticeKey(n: Notice): string {
  const id = (v: unknown) => (v as Ref | undefined)?.id ?? '';
  switch (n.kind) {
    case 'person_left':
    case 'person_inactive':
      return `${n.kind}:${String(n['person_id'])}`;
    case 'model_owner_gone':
      return `${n.kind}:${id(n['model'])}:${(n['owner'] as PersonRef).person_id}`;
    case 'model_locked':
      return `${n.kind}:${id(n['model'])}:${String(n['locked_at'])}`;
    default:
      return n.kind;
  }
}

const who = (p: PersonRef) => (p.email ? `${p.display_name} <${p.email}>` : p.display_name);
const names = (models: unknown) => ((models as Ref[]).length ? ` Models they own: ${(models as Ref[]).map((m) => m.name).join(', ')}.` : '');

/** One notice as a line of the digest. */
function line(n: Notice): string {
  switch (n.kind) {
    case 'person_left':
      return `Left the organization: ${who(n as unknown as PersonRef)} (the sign-in provider no longer vouches for them).${names(n['models'])}`;
    case 'person_inactive':
      return `Not signed in since ${String(n['last_sign_in_at'] ?? 'joining')}: ${who(n as unknown as PersonRef)}.${names(n['models'])}`;
    case 'model_owner_gone':
      return `Owner gone: ${(n['model'] as Ref).name}, owned by ${who(n['owner'] as PersonRef)}; transfer it to a new owner.`;
    case 'model_locked':
      return `Locked: ${(n['model'] as Ref).name}: ${String(n['reason'])}`;
    case 'seats_nearly_used':
      return `Seats nearly used up: ${String(n['used'])} of ${String(n['seats'])} in use.`;
    default:
      return n.kind;
  }
}

export class NoticeDigest {
  readonly #d: DigestDeps;
  readonly #sql;

  constructor(d: DigestDeps) {
    this.#d = d;
    this.#sql = {
      seen: d.db.prepare<[string], { seen_keys: string }>('SELECT seen_keys FROM notice_digests WHERE organization_id = ?'),
      save: d.db.prepare(
        `INSERT INTO notice_digests (organization_id, seen_keys, checked_at, sent_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (organization_id) DO UPDATE SET seen_keys = excluded.seen_keys, checked_at = excluded.checked_at, sent_at = coalesce(excluded.sent_at, notice_digests.sent_at)`,
      ),
    };
  }

  /** One run over every organization; the summary and figures go into the job's record. */
  async run(): Promise<{ summary: string; figures: Record<string, number> }> {
    const figures = { organizations: 0, digests: 0, messages: 0, failed: 0 };
    for (const org of this.#d.orgs.repo.all()) {
      figures.organizations++;
      const sent = await this.#organization(org);
      if (sent.messages > 0) figures.digests++;
      figures.messages += sent.messages;
      figures.failed += sent.failed;
    }
    if (figures.failed > 0) throw new Error(`${figures.failed} digest message(s) could not be sent; they are tried again at the next run`);
    return { summary: `sent ${figures.digests} digest(s) in ${figures.messages} message(s) over ${figures.organizations} organization(s)`, figures };
  }

  async #organization(org: Organization): Promise<{ messages: number; failed: number }> {
    const notices = this.#d.notices.forOrganization(org);
    const keys = notices.map(noticeKey);
    const seen = new Set<string>(JSON.parse(this.#sql.seen.get(org.id)?.seen_keys ?? '[]') as string[]);
    const fresh = notices.filter((_, i) => !seen.has(keys[i]!));
    const now = this.#d.clock.now().toISOString();
    if (fresh.length === 0) {
      this.#sql.save.run(org.id, JSON.stringify(keys), now, null);
      return { messages: 0, failed: 0 };
    }
    const admins = this.#d.orgs.repo.members(org.id).filter((m) => m.role === 'admin').flatMap((m) => {
      const person = this.#d.orgs.identity.people.get(m.personId);
      return person && person.email && person.emailVerified && !person.erasedAt && !person.blockedAt ? [person] : [];
    });
    const text = [
      `What needs an admin's eye in ${org.name} (${fresh.length} new since the last digest):`,
      '',
      ...fresh.map((n) => `* NEW ${line(n)}`),
      ...notices.filter((n) => !fresh.includes(n)).map((n) => `* ${line(n)}`),
      '',
      `See and act on them in the console: ${this.#d.publicUrl}/console/organizations/${encodeURIComponent(org.id)}/notices`,
    ].join('\n');
    let failed = 0;
    for (const admin of admins) {
      try {
        await this.#d.mailer.send({ to: admin.email!, subject: `Modelshare: ${fresh.length} new notice(s) for ${org.name}`, text });
      } catch (error) {
        failed++;
        this.#d.log.warn({ err: error, organization: org.id }, 'a notice digest could not be sent');
      }
    }
    const target = { type: 'organization', id: org.id };
    this.#d.audit.record({ action: 'notices.digest', outcome: failed ? 'failed' : 'allowed', reason: failed ? 'mail_failed' : undefined, target, source: 'job', details: { recipients: admins.length, failed, notices: notices.length, new: fresh.length } });
    // Only a digest that reached every admin moves the seen keys on; otherwise the next run sends again.
    if (!failed) this.#sql.save.run(org.id, JSON.stringify(keys), now, admins.length ? now : null);
    return { messages: admins.length - failed, failed };
  }
}
