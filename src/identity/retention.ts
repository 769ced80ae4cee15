/**
 * Retention of the sign-in tables: ended sessions, expired or revoked tokens and desktop logins,
 * and expired login requests, each removed once it has been over for its configured time. Plain
 * deletes by age; nothing here is still usable when it goes (every row is past its end).
 */
import type { Db } from '../db/open.ts';

export interface IdentityRetention {
  /** How long each kind of row is kept after it ended, in ms. */
  sessionsMs: number;
  /** The idle limit of sessions: a session unused this long has ended. */
  sessionIdleMs: number;
  refreshTokensMs: number;
  personalTokensMs: number;
  deviceRequestsMs: number;
  loginRequestsMs: number;
}

export interface IdentityPurge {
  sessions: number;
  tokens: number;
  logins: number;
  personal_tokens: number;
  device_requests: number;
  login_requests: number;
}

export function purgeIdentity(db: Db, now: Date, keep: IdentityRetention): IdentityPurge {
  const before = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const sql = {
    sessions: db.prepare('DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?'),
    tokens: db.prepare("DELETE FROM tokens WHERE kind IN ('access', 'refresh', 'break_glass') AND (expires_at < ? OR revoked_at < ?)"),
    revokedLogins: db.prepare('DELETE FROM logins WHERE revoked_at < ?'),
    emptyLogins: db.prepare('DELETE FROM logins WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.login_id = logins.id)'),
    personal: db.prepare("DELETE FROM tokens WHERE kind = 'personal' AND (expires_at < ? OR revoked_at < ?)"),
    device: db.prepare('DELETE FROM device_requests WHERE expires_at < ?'),
    login: db.prepare('DELETE FROM login_flows WHERE expires_at < ?'),
  };
  return db.transaction(() => {
    const tokenCut = before(keep.refreshTokensMs);
    const tokens = sql.tokens.run(tokenCut, tokenCut).changes;
    return {
      sessions: sql.sessions.run(before(keep.sessionsMs), before(keep.sessionsMs + keep.sessionIdleMs)).changes,
      tokens,
      logins: sql.revokedLogins.run(tokenCut).changes + sql.emptyLogins.run(tokenCut).changes,
      personal_tokens: sql.personal.run(before(keep.personalTokensMs), before(keep.personalTokensMs)).changes,
      device_requests: sql.device.run(before(keep.deviceRequestsMs)).changes,
      login_requests: sql.login.run(before(keep.loginRequestsMs)).changes,
    };
  }).immediate();
}
