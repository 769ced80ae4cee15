/**
 * A real OpenID provider (panva's oidc-provider) on loopback HTTPS, as the customer's identity
 * provider in tests. Its certificate is self-signed (made with openssl), so the server under test
 * must be told to trust it with `ca_file`, as a customer with an internal CA would. Tests pick who
 * signs in next, and may rewrite the ID token the provider returns, to prove the server's checks.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import Provider from 'oidc-provider';
import { tmpDir } from './tmp.ts';

export interface TestAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  caFile: string;
  clientId: string;
  clientSecret: string;
  /** The private key the provider signs with, so tests can forge tokens with the real key. */
  signingKey: crypto.KeyObject;
  /** Who signs in at the next authorization request. */
  nextAccount: TestAccount;
  /** When set, rewrites the id_token of the next token response. */
  tamper: ((idToken: string) => string) | undefined;
  /** Issues refresh tokens at sign-in (as a provider does for `offline_access`); off unless a test asks. */
  offline: boolean;
  /** Removes the account at the provider: its refresh tokens are refused from then on. */
  forget(sub: string): void;
  /** Changes what the provider says about an account (its claims at the next refresh or sign-in). */
  update(account: TestAccount): void;
  stop(): Promise<void>;
}

function selfSignedCert(dir: string): { key: string; cert: string; certFile: string } {
  const keyFile = path.join(dir, 'op.key');
  const certFile = path.join(dir, 'op.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=test-op', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8'), certFile };
}

export async function startTestProvider(t: ExecutionContext, redirectUri: string): Promise<TestProvider> {
  const dir = tmpDir(t, 'modelshare-op-');
  const tls = selfSignedCert(dir);
  const server = https.createServer({ key: tls.key, cert: tls.cert });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const accounts = new Map<string, TestAccount>();
  const state: TestProvider = {
    issuer,
    caFile: tls.certFile,
    clientId: 'modelshare-test',
    clientSecret: crypto.randomBytes(24).toString('base64url'),
    signingKey: privateKey,
    nextAccount: { sub: 'ada', email: 'ada@firm.example', email_verified: true, name: 'Ada Lovelace' },
    tamper: undefined,
    offline: false,
    forget: (sub) => void accounts.delete(sub),
    update: (account) => void accounts.set(account.sub, { ...account }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const provider = new Provider(issuer, {
    clients: [{ client_id: state.clientId, client_secret: state.clientSecret, redirect_uris: [redirectUri], id_token_signed_response_alg: 'ES256', grant_types: ['authorization_code', 'refresh_token'] }],
    issueRefreshToken: async () => state.offline,
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-op', use: 'sig', alg: 'ES256' }] as never },
    cookies: { keys: ['test-op-cookie-key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    findAccount: (_ctx, id) => {
      const account = accounts.get(id);
      return account ? { accountId: id, claims: async () => ({ ...account }) } : undefined;
    },
  });
  provider.use(async (ctx, next) => {
    const interaction = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(ctx.path);
    if (interaction) {
      accounts.set(state.nextAccount.sub, { ...state.nextAccount });
      ctx.respond = false;
      await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: state.nextAccount.sub } }, { mergeWithLastSubmission: false });
      return;
    }
    await next();
    if (ctx.path === '/token' && state.tamper && ctx.body && typeof (ctx.body as { id_token?: string }).id_token === 'string') {
      const body = ctx.body as { id_token: string };
      ctx.body = { ...body, id_token: state.tamper(body.id_token) };
      state.tamper = undefined;
    }
  });
  server.on('request', provider.callback());
  t.teardown(() => state.stop().catch(() => undefined));
  return state;
}

/** Re-signs an ID token's claims (changed by `edit`) with `key`, as an attacker or a broken provider would. */
export function resign(idToken: string, key: crypto.KeyObject, edit: (claims: Record<string, unknown>) => void, kid = 'test-op'): string {
  const [, payload] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  edit(claims);
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid })).toString('base64url');
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = crypto.sign('sha256', Buffer.from(`${header}.${body}`), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return `${header}.${body}.${signature}`;
}
