/**
 * Organizations for tests: a server with two organizations in its config (Firm, whose admins are in
 * the group firm-admins, and Rival), the people who sign in to it, and a small JSON caller.
 */
import type { ExecutionContext } from 'ava';
import { AppError } from '../../src/errors.ts';
import type { TestAccount } from './test-provider.ts';
import { deviceLogin, signIn, signInWorld, type SignInWorld } from './sign-in.ts';

export const people = {
  root: { sub: 'root', email: 'root@ops.example', email_verified: true, name: 'Root Admin', groups: ['ms-admins'] },
  ada: { sub: 'ada', email: 'ada@firm.example', email_verified: true, name: 'Ada Lovelace', groups: ['firm-admins'] },
  bob: { sub: 'bob', email: 'bob@firm.example', email_verified: true, name: 'Bob Builder' },
  carla: { sub: 'carla', email: 'carla@partner.example', email_verified: true, name: 'Carla Partner' },
  rita: { sub: 'rita', email: 'rita@rival.example', email_verified: true, name: 'Rita Rival', groups: ['rival-admins'] },
} satisfies Record<string, TestAccount>;

export interface OrgWorld extends SignInWorld {
  firm: string;
  rival: string;
  call(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /** A desktop login of the account: its access token and person id. */
  login(account: TestAccount): Promise<{ token: string; id: string }>;
  /** Signs the account in again in a browser (as after a lifted block). */
  signInAgain(account: TestAccount): Promise<void>;
  /** The error code the sharing gate answers for the person in the organization now, or null. */
  gate(personId: string, organizationId: string | null): string | null;
}

export async function orgWorld(t: ExecutionContext, env: Record<string, string> = {}, firmSeats = 10): Promise<OrgWorld> {
  const organizations = [
    { id: 'firm', name: 'Firm Engineering', domains: ['firm.example'], admin_groups: ['firm-admins'], seats: firmSeats },
    { id: 'rival', name: 'Rival Structures', domains: ['rival.example'], admin_groups: ['rival-admins'], seats: 10 },
  ];
  const world = await signInWorld(t, { MODELSHARE_ORGANIZATIONS: JSON.stringify(organizations), ...env });
  const orgs = world.server.services.orgs;
  const call: OrgWorld['call'] = async (method, path, token, body) => {
    const headers: Record<string, string> = {};
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await world.server.fetch(`${world.server.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers as unknown as Headers };
  };
  return {
    ...world,
    firm: orgs.repo.byConfigId('firm')!.id,
    rival: orgs.repo.byConfigId('rival')!.id,
    call,
    async login(account) {
      const tokens = await deviceLogin(world, account);
      const me = await call('GET', '/api/v1/me', tokens.access_token);
      return { token: tokens.access_token, id: String(me.body['id']) };
    },
    async signInAgain(account) {
      world.clock.advance(1000);
      await signIn(world, account);
    },
    gate(personId, organizationId) {
      try {
        orgs.assertMayShare(world.server.services.identity.people.get(personId)!, organizationId);
        return null;
      } catch (error) {
        if (error instanceof AppError) return error.code;
        throw error;
      }
    },
  };
}
