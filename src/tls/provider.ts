/** What each TLS mode provides to the TLS service: the certificate to start with, and updates. */
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Log } from '../log.ts';
import type { ServedCertificate } from './certificate.ts';
import type { TlsRepo } from './repo.ts';

/** What the modes share: the TLS tables, the keyring that seals keys, the clock and the log. */
export interface TlsContext {
  repo: TlsRepo;
  keys: Keyring;
  clock: Clock;
  log: Log;
}

export interface CertificateProvider {
  /** The certificate to serve at start; throws (a TlsError or CertificateProblem) when there is none that may be served. */
  initial(): Promise<ServedCertificate>;
  /**
   * What the scheduled job does: a new certificate to serve (renewed, or changed on disk), or
   * undefined to keep `current`. Problems are logged here and the current certificate kept.
   */
  refresh(current: ServedCertificate): Promise<{ next?: ServedCertificate; outcome: string }>;
  /** How long before expiry the status turns to `expiring`. */
  warnWithinMs(current: ServedCertificate): number;
  /** When the server renews the certificate itself (managed mode only). */
  renewAt?(current: ServedCertificate): Date;
  close(): void;
}

/** A certificate problem at start, which stops the server with a message that says what to fix. */
export class TlsError extends Error {
  override name = 'TlsError';
}

export const dayMs = 86_400_000;
