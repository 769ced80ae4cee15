/**
 * Desktop sign-in requests (RFC 8628). The device code is long and random, stored as a hash; the
 * user code is short for typing (8 letters of RFC 8628's unambiguous consonants, 20^8 ≈ 2.6·10^10)
 * and is stored as a keyed index, since a plain hash of so short a code could be reversed.
 */
import crypto from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import { blindIndex, openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';

const alphabet = 'BCDFGHJKLMNPQRSTVWXZ';
const hash = (value: string) => crypto.createHash('sha256').update(value, 'utf8').digest();

/** Upper-cases a typed user code and drops spaces and dashes; undefined when it cannot be one. */
export function normalizeUserCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  return code.length === 8 && [...code].every((c) => alphabet.includes(c)) ? code : undefined;
}

export interface DeviceStart {
  device_code: string;
  user_code: string;
  expires_in: number;
  interval: number;
}

export interface PendingRequest {
  id: string;
  clientName: string;
  userCode: string;
}

export type PollResult =
  | { status: 'unknown' | 'pending' | 'slow_down' | 'denied' | 'expired' }
  | { status: 'approved'; id: string; personId: string; clientName: string };

interface RequestRow {
  id: string;
  client_name_sealed: Buffer;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  person_id: string | null;
  interval_ms: number;
  last_polled_at: string | null;
  expires_at: string;
}

export class DeviceRequests {
  readonly #db: Db;
  readonly #keys: Keyring;
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #intervalMs: number;
  readonly #keyId: string;
  readonly #sql;

  constructor(db: Db, keys: Keyring, clock: Clock, options: { lifetimeMs: number; intervalMs: number }) {
    this.#db = db;
    this.#keys = keys;
    this.#clock = clock;
    this.#lifetimeMs = options.lifetimeMs;
    this.#intervalMs = options.intervalMs;
    this.#keyId = keys.singleton('personal');
    const columns = 'id, client_name_sealed, status, person_id, interval_ms, last_polled_at, expires_at';
    this.#sql = {
      insert: db.prepare(
        "INSERT INTO device_requests (id, device_code_hash, user_code_index, client_name_sealed, status, interval_ms, created_at, expires_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
      ),
      byUserCode: db.prepare<[Buffer], RequestRow>(`SELECT ${columns} FROM device_requests WHERE user_code_index = ?`),
      byDeviceCode: db.prepare<[Buffer], RequestRow>(`SELECT ${columns} FROM device_requests WHERE device_code_hash = ?`),
      decide: db.prepare("UPDATE device_requests SET status = ?, person_id = ? WHERE id = ? AND status = 'pending' AND expires_at > ?"),
      polled: db.prepare('UPDATE device_requests SET last_polled_at = ?, interval_ms = ? WHERE id = ?'),
      consume: db.prepare("UPDATE device_requests SET status = 'consumed' WHERE id = ? AND status = 'approved'"),
      purge: db.prepare('DELETE FROM device_requests WHERE expires_at < ?'),
      deleteForPerson: db.prepare('DELETE FROM device_requests WHERE person_id = ?'),
      denyApproved: db.prepare("UPDATE device_requests SET status = 'denied' WHERE person_id = ? AND status = 'approved'"),
    };
  }

  #userCodeIndex(code: string): Buffer {
    return blindIndex(this.#keys, this.#keyId, 'device_requests.user_code', code);
  }

  #clientName(row: RequestRow): string {
    return openText(this.#keys, { table: 'device_requests', column: 'client_name', row: row.id }, row.client_name_sealed);
  }

  start(clientName: string): DeviceStart {
    const now = this.#clock.now();
    this.#sql.purge.run(now.toISOString());
    const id = `dr_${crypto.randomBytes(12).toString('hex')}`;
    const deviceCode = crypto.randomBytes(32).toString('base64url');
    const userCode = Array.from({ length: 8 }, () => alphabet[crypto.randomInt(alphabet.length)]).join('');
    const name = seal(this.#keys, this.#keyId, { table: 'device_requests', column: 'client_name', row: id }, clientName);
    this.#sql.insert.run(id, hash(deviceCode), this.#userCodeIndex(userCode), name, this.#intervalMs, now.toISOString(), new Date(now.getTime() + this.#lifetimeMs).toISOString());
    return {
      device_code: deviceCode,
      user_code: `${userCode.slice(0, 4)}-${userCode.slice(4)}`,
      expires_in: Math.floor(this.#lifetimeMs / 1000),
      interval: Math.ceil(this.#intervalMs / 1000),
    };
  }

  /** The pending, unexpired request a typed user code names. */
  findPending(typed: string): PendingRequest | undefined {
    const code = normalizeUserCode(typed);
    if (!code) return undefined;
    const row = this.#sql.byUserCode.get(this.#userCodeIndex(code));
    if (!row || row.status !== 'pending' || new Date(row.expires_at) <= this.#clock.now()) return undefined;
    return { id: row.id, clientName: this.#clientName(row), userCode: `${code.slice(0, 4)}-${code.slice(4)}` };
  }

  /** Records the signed-in person's answer; false when the request is no longer pending. */
  decide(id: string, personId: string, approve: boolean): boolean {
    return this.#sql.decide.run(approve ? 'approved' : 'denied', personId, id, this.#clock.now().toISOString()).changes === 1;
  }

  /** One poll of the client. An approved request is handed out once, then it is consumed. */
  poll(deviceCode: string): PollResult {
    return this.#db.transaction((): PollResult => {
      const row = /^[A-Za-z0-9_-]{43}$/.test(deviceCode) ? this.#sql.byDeviceCode.get(hash(deviceCode)) : undefined;
      if (!row || row.status === 'consumed') return { status: row ? 'expired' : 'unknown' };
      const now = this.#clock.now();
      if (row.status === 'denied') return { status: 'denied' };
      if (new Date(row.expires_at) <= now) return { status: 'expired' };
      if (row.status === 'approved') {
        this.#sql.consume.run(row.id);
        return { status: 'approved', id: row.id, personId: row.person_id!, clientName: this.#clientName(row) };
      }
      // RFC 8628 §3.5: a client that polls faster than the interval is told to slow down, by 5 s more.
      const tooSoon = row.last_polled_at !== null && now.getTime() - new Date(row.last_polled_at).getTime() < row.interval_ms;
      this.#sql.polled.run(now.toISOString(), tooSoon ? row.interval_ms + 5000 : row.interval_ms, row.id);
      return { status: tooSoon ? 'slow_down' : 'pending' };
    }).immediate();
  }

  /** Sign-out everywhere: a request the person approved but the device has not yet collected gives no tokens. */
  denyApprovedOf(personId: string): number {
    return this.#sql.denyApproved.run(personId).changes;
  }

  /** Erase: the person's desktop sign-in requests go. */
  removePerson(personId: string): void {
    this.#sql.deleteForPerson.run(personId);
  }
}
