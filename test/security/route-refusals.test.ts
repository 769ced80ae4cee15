/**
 * Generated from the route table: every route is called as each identity that may not call it, and
 * must answer the documented refusal and change nothing. Access refusals follow from the route's
 * access kind; resource refusals are the ones its gate documents. A route without an entry cannot
 * exist (the router is built only from the table), and an entry without refusal cases fails here.
 */
import crypto from 'node:crypto';
import test from 'ava';
import type { AnyRoute, Caller } from '../../src/http/route-table.ts';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';
import { signIn } from '../helpers/sign-in.ts';

interface Case {
  who: string;
  headers: Record<string, string>;
  status: number;
  code?: string;
  /** For public routes: the answer must equal the anonymous one. */
  sameAsAnonymous?: boolean;
  /** A form body to send (a session's CSRF token). */
  form?: string;
}

/** A digest of every row the refused calls must leave alone (the audit log grows on purpose; tokens note their last use). */
function stateOf(world: OrgWorld): string {
  const db = world.server.stores.db;
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit_events', 'sessions', 'tokens') ORDER BY name").all() as { name: string }[]).map((r) => r.name);
  const hash = crypto.createHash('sha256');
  for (const table of tables) {
    hash.update(table);
    for (const row of db.prepare(`SELECT * FROM "${table}" ORDER BY 1`).raw().all() as unknown[][]) {
      for (const value of row) hash.update(Buffer.isBuffer(value) ? value : String(value)).update('\0');
    }
  }
  hash.update(JSON.stringify(db.prepare('SELECT id, revoked_at, expires_at FROM tokens ORDER BY id').all()));
  return hash.digest('hex');
}

test('every route refuses every identity that may not call it, and changes nothing', async (t) => {
  t.timeout(240_000);
  // Every bogus-token case comes from one address: the failed-token limit is tested on its own.
  const world = await orgWorld(t, { MODELSHARE_RATE_LIMITS_FAILED_TOKENS: '100000' });
  const { server } = world;
  const login = async (account: { sub: string; email: string; email_verified: boolean; name: string; groups?: string[] }) => world.login(account);
  const bob = await login(people.bob);
  const ada = await login(people.ada);
  const rita = await login(people.rita);
  const root = await login(people.root);
  const vic = await login({ sub: 'vic', email: 'vic@firm.example', email_verified: true, name: 'Vic Viewer' });
  const sam = await login({ sub: 'sam', email: 'sam@firm.example', email_verified: true, name: 'Sam Switched' });
  const bea = await login({ sub: 'bea', email: 'bea@firm.example', email_verified: true, name: 'Bea Blocked' });
  const remy = await login({ sub: 'remy', email: 'remy@firm.example', email_verified: true, name: 'Remy Removed' });
  // Browser sessions of the same callers, for the gates of the console's session routes; signed in
  // before they lose their access below (a sign-in re-reads their claims).
  const sessionOf = async (account: { sub: string; email: string; email_verified: boolean; name: string; groups?: string[] }) => {
    const signed = await signIn(world, account);
    return { cookie: `__Host-ms_session=${signed.browser.cookies(server.url).get('__Host-ms_session')}`, csrf: signed.csrf };
  };
  const sessions = {
    member: await sessionOf({ sub: 'vic', email: 'vic@firm.example', email_verified: true, name: 'Vic Viewer' }),
    other_org: await sessionOf(people.rita),
    not_server_admin: await sessionOf(people.ada),
    removed: await sessionOf({ sub: 'remy', email: 'remy@firm.example', email_verified: true, name: 'Remy Removed' }),
    sharing_off: await sessionOf({ sub: 'sam', email: 'sam@firm.example', email_verified: true, name: 'Sam Switched' }),
    blocked: await sessionOf({ sub: 'bea', email: 'bea@firm.example', email_verified: true, name: 'Bea Blocked' }),
  } as Partial<Record<Caller, { cookie: string; csrf: string }>>;

  // Bob's model in Firm, with a viewer and three editors who then lose their access in three ways.
  const created = await world.call('POST', '/api/v1/models', bob.token, { name: 'Refusal target' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  for (const [who, role, email] of [[vic, 'viewer', 'vic@firm.example'], [sam, 'editor', 'sam@firm.example'], [bea, 'editor', 'bea@firm.example'], [remy, 'editor', 'remy@firm.example']] as const) {
    const invited = await world.call('POST', `/api/v1/models/${modelId}/invitations`, bob.token, { email, role });
    t.is(invited.status, 201, JSON.stringify(invited.body));
    t.is((await world.call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, who.token)).status, 200);
  }
  t.is((await world.call('PATCH', `/api/v1/organizations/${world.firm}/members/${sam.id}`, ada.token, { sharing_enabled: false })).status, 200);
  t.is((await world.call('POST', `/api/v1/organizations/${world.firm}/blocked`, ada.token, { kind: 'address', value: 'bea@firm.example' })).status, 201);
  t.is((await world.call('DELETE', `/api/v1/models/${modelId}/members/${remy.id}`, bob.token)).status, 204);
  t.is((await world.call('DELETE', `/api/v1/organizations/${world.firm}/members/${remy.id}`, ada.token)).status, 204);

  // Tokens that lack one scope each, of people who would otherwise pass.
  const pat = async (token: string, scopes: string[]) => String((await world.call('POST', '/api/v1/me/tokens', token, { name: scopes.join('+'), scopes })).body['token']);
  const lacking = { read: await pat(bob.token, ['write']), write: await pat(bob.token, ['read']), admin: await pat(root.token, ['read', 'write']) };
  const { browser } = await signIn(world, people.bob);
  const sessionCookie = `__Host-ms_session=${browser.cookies(server.url).get('__Host-ms_session')}`;
  const callers: Record<Caller, string> = { member: vic.token, other_org: rita.token, not_server_admin: ada.token, sharing_off: sam.token, blocked: bea.token, removed: remy.token };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const urlOf = (r: AnyRoute) =>
    r.path.replace(/:(\w+)/g, (_m, name: string) => {
      if (name !== 'id') return { user_id: bob.id, person_id: bob.id, model_id: modelId, seq: '1', provider: 'corp' }[name] ?? 'x_missing';
      if (r.path.startsWith('/api/v1/admin/models')) return modelId;
      if (r.path.startsWith('/api/v1/models')) return modelId;
      if (r.path.startsWith('/console/models')) return modelId;
      if (r.path.includes('/organizations')) return world.firm;
      if (r.path.includes('/people')) return bob.id;
      return 'x_missing';
    });

  const casesOf = (r: AnyRoute): Case[] => {
    const unsafe = r.method !== 'GET';
    switch (r.access.kind) {
      case 'operator':
        // The metrics token is no person's: a person's token, bogus or real, is refused like no token.
        return [
          { who: 'anonymous', headers: {}, status: 0, sameAsAnonymous: true },
          { who: 'a person\'s token', headers: bearer(root.token), status: 0, sameAsAnonymous: true },
        ];
      case 'public':
      case 'page':
        return [{ who: 'bogus token', headers: bearer('bogus'), status: 0, sameAsAnonymous: true }, { who: 'bogus cookie', headers: { cookie: '__Host-ms_session=bogus' }, status: 0, sameAsAnonymous: true }];
      case 'session': {
        const signInFirst = unsafe ? { status: 401, code: 'unauthorized' } : { status: 302 };
        return [
          { who: 'anonymous', headers: {}, ...signInFirst },
          { who: 'a token on a session route', headers: bearer(bob.token), ...signInFirst },
          ...(unsafe ? [{ who: 'a session without CSRF', headers: { cookie: sessionCookie }, status: 403, code: 'csrf_failed' }] : []),
          // The gate's refusals, to sessions of callers it turns away, with their valid CSRF tokens.
          ...(r.gate?.refusals ?? []).map((refusal) => {
            const session = sessions[refusal.caller];
            if (!session) throw new Error(`${r.method} ${r.path}: no browser session for the caller ${refusal.caller}`);
            return { who: `${refusal.caller} (session)`, headers: { cookie: session.cookie }, status: refusal.status, code: refusal.code, ...(unsafe ? { form: `_csrf=${encodeURIComponent(session.csrf)}` } : {}) };
          }),
        ];
      }
      case 'token':
        return [
          { who: 'anonymous', headers: {}, status: 401, code: 'unauthorized' },
          { who: 'a bogus token', headers: bearer('msa_bogus'), status: 401, code: 'unauthorized' },
          { who: 'a session on a token route', headers: { cookie: sessionCookie }, status: 401, code: 'unauthorized' },
          { who: `a token without the ${r.access.scope} scope`, headers: bearer(lacking[r.access.scope]), status: 403, code: 'insufficient_scope' },
          ...(r.gate?.refusals ?? []).map((refusal) => ({ who: refusal.caller, headers: bearer(callers[refusal.caller]), status: refusal.status, code: refusal.code })),
        ];
    }
  };

  const send = async (r: AnyRoute, headers: Record<string, string>, form = '') => {
    const init: { method: string; headers: Record<string, string>; body?: string | Buffer } = { method: r.method, headers: { ...headers } };
    if (r.method !== 'GET') {
      if (r.body?.kind === 'stream') {
        init.headers['content-type'] = 'application/octet-stream';
        init.body = Buffer.from('x');
      } else if (r.access.kind === 'session' || r.body?.kind === 'form') {
        init.headers['content-type'] = 'application/x-www-form-urlencoded';
        init.body = form;
      } else {
        init.headers['content-type'] = 'application/json';
        init.body = '{}';
      }
    }
    const res = await server.fetch(`${server.url}${urlOf(r)}`, { ...init, redirect: 'manual' } as Parameters<typeof server.fetch>[1]);
    const text = await res.text();
    let code: unknown;
    try {
      code = (JSON.parse(text) as Record<string, unknown>)['code'];
    } catch {
      code = undefined;
    }
    return { status: res.status, code };
  };

  t.true(server.routes.length > 40, 'the table holds every route');
  let checked = 0;
  for (const r of server.routes) {
    const cases = casesOf(r);
    t.true(cases.length > 0, `${r.method} ${r.path} has refusal cases`);
    const before = stateOf(world);
    const anonymous = r.access.kind === 'public' || r.access.kind === 'page' || r.access.kind === 'operator' ? await send(r, {}) : undefined;
    for (const c of cases) {
      const res = await send(r, c.headers, c.form);
      const label = `${r.method} ${r.path} as ${c.who}`;
      if (c.sameAsAnonymous) {
        t.is(res.status, anonymous!.status, label);
        t.is(res.code, anonymous!.code, label);
        t.not(res.code, 'unauthorized', label);
      } else {
        t.is(res.status, c.status, label);
        if (c.code) t.is(res.code, c.code, label);
      }
      checked++;
    }
    // Public routes may act for anyone (start a device login); every other refusal leaves no trace.
    if (r.access.kind !== 'public') t.is(stateOf(world), before, `${r.method} ${r.path}: refused calls changed nothing`);
  }
  t.log(`${checked} refusals checked over ${server.routes.length} routes`);
});
