/** The SQL of the TLS tables (`tls_authority`, `tls_certificates`), prepared once. */
import type { Db } from '../db/open.ts';

export interface AuthorityRow {
  id: string;
  certificate: string;
  key_sealed: Buffer;
  fingerprint: string;
  created_at: string;
}

/** managed: issued by the internal CA; csr-pending: waiting for the corporate CA; csr: imported. */
export type CertificateSlot = 'managed' | 'csr-pending' | 'csr';

export interface CertificateRow {
  id: string;
  slot: CertificateSlot;
  key_sealed: Buffer;
  request: string | null;
  chain: string | null;
  /** JSON of SubjectNames. */
  names: string;
  not_after: string | null;
  created_at: string;
}

/** Where each sealed key lives; the row id is bound into the ciphertext. */
export const authorityKeyPlace = (id: string) => ({ table: 'tls_authority', column: 'key_sealed', row: id });
export const certificateKeyPlace = (id: string) => ({ table: 'tls_certificates', column: 'key_sealed', row: id });

export class TlsRepo {
  readonly #db: Db;
  readonly #sql;

  constructor(db: Db) {
    this.#db = db;
    this.#sql = {
      authority: db.prepare<[], AuthorityRow>('SELECT id, certificate, key_sealed, fingerprint, created_at FROM tls_authority ORDER BY created_at LIMIT 1'),
      recertifyAuthority: db.prepare<[string, string, string]>('UPDATE tls_authority SET certificate = ?, fingerprint = ? WHERE id = ?'),
      insertAuthority: db.prepare('INSERT INTO tls_authority (id, certificate, key_sealed, fingerprint, created_at) VALUES (?, ?, ?, ?, ?)'),
      certificate: db.prepare<[CertificateSlot], CertificateRow>(
        'SELECT id, slot, key_sealed, request, chain, names, not_after, created_at FROM tls_certificates WHERE slot = ?',
      ),
      deleteSlot: db.prepare<[CertificateSlot]>('DELETE FROM tls_certificates WHERE slot = ?'),
      insertCertificate: db.prepare(
        'INSERT INTO tls_certificates (id, slot, key_sealed, request, chain, names, not_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      install: db.prepare<[string, string, string]>("UPDATE tls_certificates SET slot = 'csr', chain = ?, not_after = ? WHERE id = ?"),
    };
  }

  authority(): AuthorityRow | undefined {
    return this.#sql.authority.get();
  }

  /** Stores the CA unless one exists; returns the one that is stored (a racing start keeps the first). */
  insertAuthority(row: AuthorityRow): AuthorityRow {
    return this.#db.transaction(() => {
      const existing = this.#sql.authority.get();
      if (existing) return existing;
      this.#sql.insertAuthority.run(row.id, row.certificate, row.key_sealed, row.fingerprint, row.created_at);
      return row;
    }).immediate();
  }

  /** A new certificate for the same CA key (new name constraints); the key row stays as it is. */
  recertifyAuthority(id: string, certificate: string, fingerprint: string): void {
    this.#sql.recertifyAuthority.run(certificate, fingerprint, id);
  }

  certificate(slot: CertificateSlot): CertificateRow | undefined {
    return this.#sql.certificate.get(slot);
  }

  /** Puts `row` in its slot, deleting what was there (secure_delete overwrites the old sealed key). */
  replace(row: CertificateRow): void {
    this.#db.transaction(() => {
      this.#sql.deleteSlot.run(row.slot);
      this.#sql.insertCertificate.run(row.id, row.slot, row.key_sealed, row.request, row.chain, row.names, row.not_after, row.created_at);
    }).immediate();
  }

  /** Installs a signed chain for the key of row `id` (pending or current) as the `csr` certificate. */
  install(id: string, chain: string, notAfter: string): void {
    this.#db.transaction(() => {
      const current = this.#sql.certificate.get('csr');
      if (current && current.id !== id) this.#sql.deleteSlot.run('csr');
      this.#sql.install.run(chain, notAfter, id);
    }).immediate();
  }
}
