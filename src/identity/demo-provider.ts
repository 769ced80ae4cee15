/**
 * The demo sign-in: a real OpenID provider (panva's oidc-provider, the only file that imports it)
 * mounted at /demo, whose people are listed in the config and sign in by picking their name. It
 * exists so that `npm start` on a fresh machine can sign in at all; every page it shows says DEMO,
 * and it refuses to run in production or next to a real provider. Whether it runs is decided by
 * sign-in-setup.ts, and this file is imported only when it does (oidc-provider warns on import).
 */
import crypto from 'node:crypto';
import type { Context, Next } from 'koa';
import Provider, { type Configuration } from 'oidc-provider';
import type { Config } from '../config/options.ts';
import { readParams } from '../http/body.ts';
import type { Log } from '../log.ts';
import { html, page } from '../web/html.ts';
import type { ProviderSettings } from './oidc.ts';
import { demoAdminGroup as adminGroup } from './sign-in-setup.ts';

export const demoPath = '/demo';

export interface DemoProvider {
  /** The relying-party settings for signing in through it. */
  settings: ProviderSettings;
  /** Koa middleware serving everything under /demo. */
  middleware(): (ctx: Context, next: Next) => Promise<void>;
}

export function createDemoProvider(config: Config, log: Log, caPem: string | undefined): DemoProvider {
  const issuer = `${config.public_url}${demoPath}`;
  const clientSecret = crypto.randomBytes(32).toString('base64url');
  const people = config.demo.people.map((p, i) => ({ ...p, id: `demo-${i + 1}` }));
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const configuration: Configuration = {
    clients: [
      {
        client_id: 'modelshare-demo',
        client_secret: clientSecret,
        redirect_uris: [`${config.public_url}/auth/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'ES256', kid: 'demo' }] as never },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    features: { devInteractions: { enabled: false } },
    pkce: { required: () => true },
    interactions: { url: (_ctx, interaction) => `${demoPath}/interaction/${interaction.uid}` },
    // Consent is implied: the demo has one client, this server.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    findAccount: (_ctx, id) => {
      const person = people.find((p) => p.id === id);
      if (!person) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: person.email,
          email_verified: true,
          name: person.name,
          groups: person.server_admin ? [adminGroup] : [],
        }),
      };
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (_ctx: unknown, error: Error) => log.error({ err: error, demo: true }, 'demo sign-in provider error'));
  log.warn({ issuer, people: people.length }, 'DEMO SIGN-IN PROVIDER IS RUNNING: anyone can sign in as a demo person. For evaluation only.');

  const pickPage = (uid: string) =>
    page(
      'Demo sign-in',
      html`<p>Pick who to be. There are no passwords: this provider is for trying Modelshare out.</p>
${people.map((p) => html`<form method="post" action="${demoPath}/interaction/${uid}"><input type="hidden" name="person" value="${p.id}"><button type="submit">${p.name} (${p.email})${p.server_admin ? ', server admin' : ''}</button></form>`)}`,
      { demo: true },
    );

  return {
    settings: {
      id: 'demo',
      name: 'Demo sign-in (evaluation only)',
      issuer,
      clientId: 'modelshare-demo',
      clientSecret,
      scopes: ['openid', 'email', 'profile'],
      ca: caPem,
      emailVerified: 'always',
      adminGroups: [adminGroup],
      claims: { email: 'email', email_verified: 'email_verified', name: 'name', groups: 'groups' },
    },
    middleware() {
      return async (ctx, next) => {
        if (ctx.path !== demoPath && !ctx.path.startsWith(`${demoPath}/`)) return next();
        const interaction = new RegExp(`^${demoPath}/interaction/([A-Za-z0-9_-]+)$`).exec(ctx.path);
        if (interaction && (ctx.method === 'GET' || ctx.method === 'POST')) {
          const details = await provider.interactionDetails(ctx.req, ctx.res);
          if (ctx.method === 'GET') {
            ctx.type = 'text/html; charset=utf-8';
            ctx.body = pickPage(details.uid);
            return;
          }
          const form = await readParams(ctx, 4096);
          const person = people.find((p) => p.id === form['person']);
          ctx.respond = false;
          await provider.interactionFinished(ctx.req, ctx.res, person ? { login: { accountId: person.id } } : { error: 'access_denied' }, { mergeWithLastSubmission: false });
          return;
        }
        // Everything else is the provider's own: hand it the request with the mount path stripped.
        ctx.respond = false;
        const req = ctx.req as typeof ctx.req & { originalUrl?: string };
        req.originalUrl = req.url;
        req.url = req.url!.slice(demoPath.length) || '/';
        await provider.callback()(ctx.req, ctx.res);
      };
    },
  };
}
