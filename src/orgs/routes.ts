/**
 * `/api/v1/organizations/:id/…`: what an organization's admins manage. The gate on each line:
 * `member` lets in the organization's members, `admin` its admins (server admins pass both). To
 * anyone else the organization does not exist (404); a member who is not an admin gets 403.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { actorOf, requireScope } from '../http/authenticate.ts';
import { readJson } from '../http/body.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import { presentBlock, presentMember, presentOrganizationFor, presentOrgInvitation } from './present.ts';
import type { Organization } from './repo.ts';
import { block, invite, organizationSwitch, updateMember } from './schema.ts';
import type { OrganizationsService } from './service.ts';

type OrgState = AppState & { organization?: Organization; orgRole?: string | null };
type OrgContext = Context & { state: OrgState; params: Record<string, string> };

export function organizationsRouter(orgs: OrganizationsService, options: { bodyLimit: number }) {
  const router = new Router<OrgState>({ prefix: '/api/v1/organizations/:id' });
  const member = async (ctx: OrgContext, next: Next) => {
    const { org, membership } = orgs.visibleTo(actorOf(ctx), ctx.params['id']!);
    ctx.state.organization = org;
    ctx.state.orgRole = membership?.role ?? null;
    await next();
  };
  const admin = async (ctx: OrgContext, next: Next) => {
    const actor = actorOf(ctx);
    ctx.state.organization = orgs.administeredBy(actor, ctx.params['id']!);
    ctx.state.orgRole = orgs.repo.membership(ctx.state.organization.id, actor.person.id)?.role ?? null;
    await next();
  };
  const org = (ctx: { state: OrgState }) => ctx.state.organization!;
  const body = async <T>(ctx: OrgContext, schema: z.ZodType<T>) => parseInput(schema, await readJson(ctx, options.bodyLimit));

  router.get('/', requireScope('read'), member, (ctx) => {
    const isAdmin = ctx.state.orgRole === 'admin' || ctx.state.orgRole === null;
    ctx.body = presentOrganizationFor(org(ctx), ctx.state.orgRole ?? null, isAdmin ? orgs.admin.seats(org(ctx)) : undefined);
  });
  router.patch('/', requireScope('write'), admin, async (ctx) => {
    const input = await body(ctx, organizationSwitch);
    const updated = orgs.admin.setSharing(actorOf(ctx), org(ctx), input.sharing_enabled, ctx.ip);
    ctx.body = presentOrganizationFor(updated, ctx.state.orgRole ?? null, orgs.admin.seats(updated));
  });
  router.get('/seats', requireScope('read'), admin, (ctx) => {
    ctx.body = orgs.admin.seats(org(ctx));
  });

  router.get('/members', requireScope('read'), admin, (ctx) => {
    const people = orgs.identity.people;
    ctx.body = { members: orgs.repo.members(org(ctx).id).map((m) => presentMember(m, people.get(m.personId), orgs.identity.profiles.get(m.personId))) };
  });
  router.patch('/members/:person_id', requireScope('write'), admin, async (ctx) => {
    const input = await body(ctx, updateMember);
    const m = orgs.admin.updateMember(actorOf(ctx), org(ctx), ctx.params['person_id']!, input, ctx.ip);
    ctx.body = presentMember(m, orgs.identity.people.get(m.personId), orgs.identity.profiles.get(m.personId));
  });
  router.delete('/members/:person_id', requireScope('write'), admin, (ctx) => {
    orgs.admin.removeMember(actorOf(ctx), org(ctx), ctx.params['person_id']!, ctx.ip);
    ctx.status = 204;
  });

  router.get('/blocked', requireScope('read'), admin, (ctx) => {
    ctx.body = { blocked: orgs.blocks.list(org(ctx).id).map(presentBlock) };
  });
  router.post('/blocked', requireScope('write'), admin, async (ctx) => {
    const input = await body(ctx, block);
    const { block: added, existed } = orgs.admin.block(actorOf(ctx), org(ctx), input.kind, input.value, ctx.ip);
    ctx.status = existed ? 200 : 201;
    ctx.body = presentBlock(added);
  });
  router.delete('/blocked/:block_id', requireScope('write'), admin, (ctx) => {
    orgs.admin.unblock(actorOf(ctx), org(ctx), ctx.params['block_id']!, ctx.ip);
    ctx.status = 204;
  });

  router.get('/invitations', requireScope('read'), admin, (ctx) => {
    ctx.body = { invitations: orgs.invitations.pendingOf(org(ctx)).map(presentOrgInvitation) };
  });
  router.post('/invitations', requireScope('write'), admin, async (ctx) => {
    const input = await body(ctx, invite);
    const invitation = orgs.invitations.invite(actorOf(ctx), org(ctx), input.email, ctx.ip);
    ctx.status = 201;
    ctx.body = presentOrgInvitation(invitation);
  });
  router.delete('/invitations/:invitation_id', requireScope('write'), admin, (ctx) => {
    orgs.invitations.revoke(actorOf(ctx), org(ctx), ctx.params['invitation_id']!, ctx.ip);
    ctx.status = 204;
  });
  return router;
}
