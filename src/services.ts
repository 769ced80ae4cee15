/**
 * The domain services of one server, built from the stores and the config. `serve` and the tests
 * build them the same way; `start` begins background work (provider discovery), `stop` ends it.
 */
import { AuditService } from './audit/audit-service.ts';
import type { Stores } from './boot.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config/options.ts';
import type { DemoProvider } from './identity/demo-provider.ts';
import { demoEnabled, demoOrganization, type DemoFactory } from './identity/sign-in-setup.ts';
import { readCaFile, type ProviderSettings } from './identity/oidc.ts';
import { IdentityService } from './identity/service.ts';
import type { Log } from './log.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import type { StatusSource } from './status/sources.ts';
import { createMailer, type Mailer } from './mail/mailer.ts';
import { OrganizationsService } from './orgs/service.ts';
import { PrivacyService } from './privacy/service.ts';
import { sharingPersonalData } from './sharing/personal-data.ts';
import { createSharing, type Sharing } from './sharing/setup.ts';
import type { Authenticator } from './http/authenticate.ts';
import { RateLimits } from './http/limits.ts';
import { identityAuthenticator } from './identity/authenticator.ts';
import { ReplicationService } from './replication/replication-service.ts';
import { replicationSource } from './replication/status-source.ts';

export interface Services {
  audit: AuditService;
  identity: IdentityService;
  /** Organizations; also the SharingGate of the sharing domain. */
  orgs: OrganizationsService;
  privacy: PrivacyService;
  sharing: Sharing;
  /** The mail relay of `smtp`, when one is configured. */
  mailer: Mailer | undefined;
  demo: DemoProvider | undefined;
  /** Turns tokens and session cookies into actors, for the router. */
  authenticator: Authenticator;
  /** Rate limits of the sign-in, token and device endpoints and of failed tokens. */
  limits: RateLimits;
  /** This server's metrics registry and the hooks other parts report through. */
  metrics: Metrics;
  /** Status page rows beyond the standard ones (the last backup's, for one); read at each request. */
  statusSources: StatusSource[];
  /** Litestream and the lag, when replication.enabled (stopped by `serve` before the database closes). */
  replication: ReplicationService | undefined;
  start(): void;
  stop(): void;
}

export interface ServiceOptions {
  /** The CA that signed this server's certificate, so the demo sign-in can be reached over HTTPS. */
  caPem?: string | undefined;
  /** For commands that do not serve (`admin token`): no demo provider is started. */
  withoutDemo?: boolean;
  /** Builds the demo provider when the config runs it (from `loadDemoFactory`, which imports it only then). */
  demoFactory?: DemoFactory | undefined;
}

export function createServices(config: Config, stores: Stores, clock: Clock, log: Log, options: ServiceOptions = {}): Services {
  const audit = new AuditService(stores.db, stores.keys, clock);
  const metrics = createMetrics();
  audit.observe((entry) => metrics.audited(entry));
  const demoRuns = !options.withoutDemo && demoEnabled(config);
  if (demoRuns && !options.demoFactory) throw new Error('the demo sign-in runs under this config: pass demoFactory (loadDemoFactory)');
  const demo = demoRuns ? options.demoFactory!(config, log, options.caPem) : undefined;
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
  // Organizations take their members from each sign-in; they are made just below, with identity's people.
  const mailer = createMailer(config);
  let orgs: OrganizationsService | undefined;
  const onSignIn = (person: Parameters<OrganizationsService['recordSignIn']>[0], groups: readonly string[], source: string) => orgs!.recordSignIn(person, groups, source);
  const onProviderWithdrew = (person: Parameters<OrganizationsService['recordSignIn']>[0], provider: string, source: string) => orgs!.recordProviderWithdrawal(person, provider, source);
  const identity = new IdentityService({ config, db: stores.db, keys: stores.keys, clock, log, audit, providers, onSignIn, onProviderWithdrew });
  orgs = new OrganizationsService({
    db: stores.db,
    keys: stores.keys,
    clock,
    log,
    audit,
    identity,
    // Commands that do not serve leave the declared organizations as the last start made them.
    declared: options.withoutDemo ? undefined : demo && config.organizations.length === 0 ? [demoOrganization] : config.organizations,
    invitations: { lifetimeMs: config.invitations.lifetime, maxPendingPerInvitee: config.invitations.max_pending_per_invitee, maxSentPerHour: config.invitations.max_sent_per_hour },
    mailer,
    publicUrl: config.public_url,
  });
  const authenticator = identityAuthenticator(identity, audit);
  const privacy = new PrivacyService({ db: stores.db, clock, log, audit, identity, orgs });
  const sharing = createSharing({
    config,
    db: stores.db,
    keys: stores.keys,
    clock,
    audit,
    people: identity.people,
    gate: orgs,
    blobs: stores.blobs,
    assertInvitationLimits: (senderId, email) => orgs!.invitations.assertLimits(senderId, email),
    displayName: (personId) => identity.publicPerson(personId).display_name,
    mailer,
    stillValid: (actor) => authenticator.stillValid(actor),
  });
  // Model invitations join the list of GET /api/v1/invitations and count toward the same caps.
  orgs.invitations.addSource(sharing.invitations);
  privacy.addSource(sharingPersonalData(stores.db, stores.keys, identity.people));
  // Commands that do not serve never start Litestream: only the serving process replicates.
  const replication = config.replication.enabled && !options.withoutDemo ? new ReplicationService({ config, db: stores.db, log }) : undefined;
  if (replication) metrics.observeReplication(() => replication.status());
  return {
    audit,
    identity,
    orgs,
    privacy,
    sharing,
    mailer,
    demo,
    authenticator,
    limits: Object.assign(new RateLimits({ perAddress: config.rate_limits.per_address, failedTokens: config.rate_limits.failed_tokens }), { onRefusal: (limit: string) => metrics.rateLimited(limit) }),
    metrics,
    statusSources: replication ? [replicationSource(replication)] : [],
    replication,
    start: () => {
      identity.providers.start();
      stores.storage.start();
      replication?.start();
    },
    stop: () => {
      identity.providers.stop();
      stores.storage.stop();
      void replication?.stop();
    },
  };
}
