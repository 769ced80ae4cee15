/**
 * The provider's refresh token of each person's last browser sign-in (table `provider_grants`), so
 * that a refresh of our own tokens can ask the provider again whether it still vouches for them.
 * The token and the subject are sealed with the personal data key, bound to the row.
 */
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

export interface ProviderGrant {
  personId: string;
  provider: string;
  refreshToken: string;
  subject: string;
  checkedAt: string;
}

interface GrantRow {
  person_id: string;
  provider: string;
  refresh_sealed: Buffer;
  subject_sealed: Buffer;
  checked_at: string;
}

export class ProviderGrants {
  readonly #keys: Keyring;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring) {
    this.#keys = keys;
    this.#keyId = keys.singleton('personal');
    this.#sql = {
      put: db.prepare(
        `INSERT INTO provider_grants (person_id, provider, refresh_sealed, subject_sealed, checked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (person_id, provider) DO UPDATE SET refresh_sealed = excluded.refresh_sealed, subject_sealed = excluded.subject_sealed, checked_at = excluded.checked_at`,
      ),
      of: db.prepare<[string], GrantRow>('SELECT person_id, provider, refresh_sealed, subject_sealed, checked_at FROM provider_grants WHERE person_id = ? ORDER BY provider'),
      remove: db.prepare('DELETE FROM provider_grants WHERE person_id = ? AND provider = ?'),
      removePerson: db.prepare('DELETE FROM provider_grants WHERE person_id = ?'),
    };
  }

  #place(personId: string, provider: string, column: string) {
    return { table: 'provider_grants', column, row: `${personId}\0${provider}` };
  }

  put(g: ProviderGrant): void {
    const refresh = seal(this.#keys, this.#keyId, this.#place(g.personId, g.provider, 'refresh'), g.refreshToken);
    const subject = seal(this.#keys, this.#keyId, this.#place(g.personId, g.provider, 'subject'), g.subject);
    this.#sql.put.run(g.personId, g.provider, refresh, subject, g.checkedAt);
  }

  of(personId: string): ProviderGrant[] {
    return this.#sql.of.all(personId).map((r) => ({
      personId: r.person_id,
      provider: r.provider,
      refreshToken: openText(this.#keys, this.#place(r.person_id, r.provider, 'refresh'), r.refresh_sealed),
      subject: openText(this.#keys, this.#place(r.person_id, r.provider, 'subject'), r.subject_sealed),
      checkedAt: r.checked_at,
    }));
  }

  remove(personId: string, provider: string): void {
    this.#sql.remove.run(personId, provider);
  }

  /** Forgets every grant of the person (erasure, a server-wide block). */
  removePerson(personId: string): void {
    this.#sql.removePerson.run(personId);
  }
}
