/**
 * The domain services of one server, built from the stores and the config. `serve` and the tests
 * build them the same way; `start` begins background work (provider discovery), `stop` ends it.
 */
import { AuditService } from './audit/audit-service.ts';
import type { Stores } from './boot.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/options.ts';
import { createDemoProvider, demoEnabled, type DemoProvider } from './identity/demo-provider.ts';
import { readCaFile, type ProviderSettings } from './identity/oidc.ts';
import { IdentityService } from './identity/service.ts';
import type { Log } from './log.ts';

export interface Services {
  audit: AuditService;
  identity: IdentityService;
  demo: DemoProvider | undefined;
  start(): void;
  stop(): void;
}

export interface ServiceOptions {
  /** The CA that signed this server's certificate, so the demo sign-in can be reached over HTTPS. */
  caPem?: string | undefined;
  /** For commands that do not serve (`admin token`): no demo provider is started. */
  withoutDemo?: boolean;
}

export function createServices(config: Config, stores: Stores, clock: Clock, log: Log, options: ServiceOptions = {}): Services {
  const audit = new AuditService(stores.db, stores.keys, clock);
  const demo = !options.withoutDemo && demoEnabled(config) ? createDemoProvider(config, log, options.caPem) : undefined;
  const providers: ProviderSettings[] = config.auth.providers.map((p) => ({
    id: p.id,
    name: p.name || p.id,
    issuer: p.issuer,
    clientId: p.client_id,
    clientSecret: p.client_secret,
    scopes: p.scopes,
    ca: readCaFile(p.ca_file),
    emailVerified: p.email_verified,
    adminGroups: p.admin_groups,
    claims: p.claims,
  }));
  if (demo) providers.push(demo.settings);
  const identity = new IdentityService({ config, db: stores.db, keys: stores.keys, clock, log, audit, providers });
  return {
    audit,
    identity,
    demo,
    start: () => identity.providers.start(),
    stop: () => identity.providers.stop(),
  };
}
