/**
 * The TLS service: starts the configured mode, holds the certificate being served, tells the server
 * when it changes (renewed, files reloaded, certificate imported) so new connections get the new one
 * while open ones carry on, and reports expiry for /readyz and the logs.
 */
import net from 'node:net';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import type { CheckReport, ReadinessCheck } from '../http/health.ts';
import type { Log } from '../log.ts';
import { CertificateProblem, type ServedCertificate } from './certificate.ts';
import { csrProvider } from './csr.ts';
import { filesProvider } from './files.ts';
import type { SubjectNames } from './forge.ts';
import { loadOrCreateAuthority, managedProvider } from './managed.ts';
import { dayMs, TlsError, type CertificateProvider, type TlsContext } from './provider.ts';
import { TlsRepo } from './repo.ts';

export interface TlsDeps {
  config: Config;
  db: Db;
  keys: Keyring;
  clock: Clock;
  log: Log;
}

export type TlsMode = 'managed' | 'files' | 'csr';

/** The TLS part of the status data (/readyz, the status page). */
export interface TlsStatus {
  mode: TlsMode;
  names: string[];
  serial: string;
  not_after: string;
  days_left: number;
  /** When the server renews it itself (managed mode); null when someone else must. */
  renew_at: string | null;
  /** `expiring` within the warning window (30 days for supplied certificates), `expired` after. */
  warning: 'expiring' | 'expired' | null;
  /** The internal CA's SHA-256 fingerprint in managed mode, for pinning. */
  ca_fingerprint: string | null;
}

/** The names a certificate is for: tls.names and tls.ip_addresses, plus the host of public_url. */
export function subjectNames(config: Config): SubjectNames {
  const host = new URL(config.public_url).hostname.replace(/^\[(.*)\]$/, '$1');
  const ips = [...config.tls.ip_addresses];
  const dns = [...config.tls.names];
  if (net.isIP(host)) ips.push(host);
  else dns.push(host);
  const bad = ips.find((ip) => !net.isIP(ip));
  if (bad !== undefined) throw new TlsError(`tls.ip_addresses: ${JSON.stringify(bad)} is not an IP address`);
  // Lower-case and without duplicates, so a restart with the same names keeps the same certificate.
  return { dns: [...new Set(dns.map((d) => d.toLowerCase()))], ips: [...new Set(ips.map((ip) => (net.isIPv6(ip) ? ip.toLowerCase() : ip)))] };
}

export class TlsService {
  readonly mode: TlsMode;
  /** The internal CA (managed mode): its certificate is served at /ca.pem. */
  readonly authority: { certificatePem: string; fingerprint: string } | undefined;
  readonly #provider: CertificateProvider;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #listeners = new Set<() => void>();
  #served: ServedCertificate;
  #refreshing: Promise<string> | undefined;

  private constructor(mode: TlsMode, provider: CertificateProvider, served: ServedCertificate, authority: TlsService['authority'], deps: TlsDeps) {
    this.mode = mode;
    this.#provider = provider;
    this.#served = served;
    this.authority = authority;
    this.#clock = deps.clock;
    this.#log = deps.log;
  }

  /**
   * Starts the configured mode (tls.mode must not be `off`). Throws a TlsError that names the
   * setting or file to fix when there is no certificate that may be served.
   */
  static async start(deps: TlsDeps): Promise<TlsService> {
    const { config } = deps;
    if (config.tls.mode === 'off') throw new TlsError('tls.mode is off: the server speaks plain HTTP');
    const ctx: TlsContext = { repo: new TlsRepo(deps.db), keys: deps.keys, clock: deps.clock, log: deps.log };
    let service: TlsService | undefined;
    const changed = () => void service?.refresh();
    let provider: CertificateProvider;
    let authority: TlsService['authority'];
    if (config.tls.mode === 'managed') {
      if (config.tls.lifetime > 825 * dayMs) throw new TlsError('tls.lifetime: at most 825d, or clients (Apple platforms, browsers) refuse the certificate');
      const names = subjectNames(config);
      const ca = await loadOrCreateAuthority(ctx, names);
      authority = { certificatePem: ca.certificatePem, fingerprint: ca.fingerprint };
      provider = managedProvider(ctx, ca, { names, lifetimeMs: config.tls.lifetime, renewAtPercent: config.tls.renew_at_percent });
    } else if (config.tls.mode === 'files') {
      const missing = (['cert_file', 'key_file'] as const).filter((k) => config.tls[k] === '');
      if (missing.length > 0) {
        throw new TlsError(`tls.mode is files, but ${missing.map((k) => `tls.${k}`).join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`);
      }
      provider = filesProvider(ctx, { certFile: config.tls.cert_file, keyFile: config.tls.key_file }, changed);
    } else {
      provider = csrProvider(ctx);
    }
    let served: ServedCertificate;
    try {
      served = await provider.initial();
    } catch (error) {
      provider.close();
      if (error instanceof CertificateProblem) throw new TlsError(`TLS (${config.tls.mode} mode): ${error.message}`);
      throw error;
    }
    service = new TlsService(config.tls.mode, provider, served, authority, deps);
    service.#warnIfExpiring();
    return service;
  }

  /** The key and chain for a secure context (node:tls reads PEM). */
  current(): { key: string; cert: string } {
    return { key: this.#served.keyPem, cert: this.#served.chainPem };
  }

  /** Calls `listener` after the served certificate changed. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  status(): TlsStatus {
    const { info } = this.#served;
    const left = info.notAfter.getTime() - this.#clock.now().getTime();
    const warning = left <= 0 ? 'expired' : left <= this.#provider.warnWithinMs(this.#served) ? 'expiring' : null;
    return {
      mode: this.mode,
      names: info.names,
      serial: info.serial,
      not_after: info.notAfter.toISOString(),
      days_left: Math.floor(left / dayMs),
      renew_at: this.#provider.renewAt?.(this.#served).toISOString() ?? null,
      warning,
      ca_fingerprint: this.authority?.fingerprint ?? null,
    };
  }

  /**
   * The renewal job: renews the managed certificate when due, re-reads changed files, picks up an
   * imported certificate; warns when the one served is expiring. Resolves to what it did. Runs one at
   * a time: a call during a run waits for that run.
   */
  refresh(): Promise<string> {
    this.#refreshing ??= (async () => {
      try {
        const { next, outcome } = await this.#provider.refresh(this.#served);
        if (next) {
          this.#served = next;
          for (const listener of this.#listeners) listener();
        }
        this.#warnIfExpiring();
        return outcome;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  #warnIfExpiring(): void {
    const status = this.status();
    if (status.warning === 'expired') this.#log.error({ tls: status }, 'the server certificate has EXPIRED: clients refuse to connect');
    else if (status.warning === 'expiring') this.#log.warn({ tls: status }, `the server certificate expires in ${status.days_left} day(s)`);
  }

  close(): void {
    this.#provider.close();
  }
}

/** /readyz: ready while the certificate is valid; `expiring` is a warning that keeps it ready. */
export function tlsReadiness(tls: TlsService): ReadinessCheck {
  return {
    name: 'tls',
    async run(): Promise<CheckReport> {
      const status = tls.status();
      if (status.warning === 'expired') throw new Error(`the server certificate expired on ${status.not_after}`);
      return { state: status.warning ?? 'ok', details: { mode: status.mode, not_after: status.not_after, days_left: status.days_left, warning: status.warning } };
    },
  };
}
