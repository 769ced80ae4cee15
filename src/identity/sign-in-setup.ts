/**
 * Whether, and how, anyone can sign in on this server: the rules for the demo sign-in provider and
 * what the operator is told when no provider is configured. Kept apart from demo-provider.ts, which
 * imports oidc-provider, so that commands that never run the demo never load that library.
 */
import net from 'node:net';
import type { Config } from '../config/options.ts';
import { demoRefusal } from '../config/validate.ts';
import type { Log } from '../log.ts';
import type { DemoProvider } from './demo-provider.ts';

/** The group of the demo's server admin; its people are given it in their `groups` claim. */
export const demoAdminGroup = 'modelshare-demo-admins';

/**
 * The organization a demo install declares when the config declares none, so the demo people show
 * organizations at work: Ada (in the admin group) is its admin, Bob (example.com) an employee, and
 * Carla (partner.example) an outsider whom an admin can invite as a partner.
 */
export const demoOrganization = { id: 'demo', name: 'Example Engineering (demo)', domains: ['example.com'], admin_groups: [demoAdminGroup], seats: 10 };

export class DemoProviderRefused extends Error {
  override name = 'DemoProviderRefused';
}

/** True when `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * Whether the demo provider runs under this config; throws when it is asked for where it may not run.
 * Its Ada is a server admin and anyone who reaches the server can pick her, so `auto` runs it only
 * when the server listens on loopback; on any other address it runs only when `demo.enabled: on`
 * says so explicitly.
 */
export function demoEnabled(config: Config): boolean {
  const refusal = demoRefusal(config);
  if (refusal) throw new DemoProviderRefused(refusal);
  if (config.demo.enabled === 'on') return true;
  return config.demo.enabled === 'auto' && config.auth.providers.length === 0 && !config.production && isLoopbackHost(config.server.host);
}

/** What builds the demo provider: passed in by `serve`, which imports it only when it runs. */
export type DemoFactory = (config: Config, log: Log, caPem: string | undefined) => DemoProvider;

/** Imports the demo provider (and with it oidc-provider) only when this config runs it. */
export async function loadDemoFactory(config: Config): Promise<DemoFactory | undefined> {
  if (!demoEnabled(config)) return undefined;
  return (await import('./demo-provider.ts')).createDemoProvider;
}

/** How to let people in, for the log and the home page when no provider is configured. */
export const noProviderAdvice = {
  summary: 'No sign-in provider is configured, so nobody can sign in yet.',
  steps: [
    'Register this server at your OpenID Connect provider (Entra ID, Keycloak, Okta, Authentik …) as a confidential client with the redirect URI <public_url>/auth/callback.',
    'List it under auth.providers in the configuration file (issuer, client_id, client_secret_file), then restart the server.',
    'Until then, `modelshare admin token --email you@firm.example` prints a short-lived server-admin token for setting up through the API.',
    'To try Modelshare out on this machine only, listen on 127.0.0.1 (the demo sign-in then runs); demo.enabled: on runs it on any address, where anyone who reaches the server can sign in as a server admin.',
  ],
};

/** Tells the operator, once at start, who can sign in: nobody yet, or anyone through the demo. */
export function announceSignIn(config: Config, demoRuns: boolean, log: Log): void {
  if (demoRuns && !isLoopbackHost(config.server.host)) {
    log.warn(
      { host: config.server.host, demo_enabled: config.demo.enabled },
      `DEMO SIGN-IN ON ${config.server.host}: anyone who can reach this server can sign in as a demo person, Ada is a server admin. ` +
        'Turn demo.enabled off before anyone else can reach it.',
    );
  }
  if (!demoRuns && config.auth.providers.length === 0) {
    log.warn({ redirect_uri: `${config.public_url}/auth/callback`, steps: noProviderAdvice.steps }, `${noProviderAdvice.summary} See the steps of this line, or the README (Sign-in).`);
  }
}
