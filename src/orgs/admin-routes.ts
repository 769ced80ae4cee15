/** `/api/v1/admin/organizations`: server admins add organizations and change those the API made. */
import Router from '@koa/router';
import { actorOf, requireServerAdmin } from '../http/authenticate.ts';
import { readJson } from '../http/body.ts';
import type { AppState } from '../http/state.ts';
import { parseInput } from '../http/input.ts';
import { presentOrganization } from './present.ts';
import { createOrganization, updateOrganization } from './schema.ts';
import type { OrganizationsService } from './service.ts';

export function organizationsAdminRouter(orgs: OrganizationsService, options: { bodyLimit: number }) {
  const router = new Router<AppState>({ prefix: '/api/v1/admin/organizations' });

  router.get('/', requireServerAdmin(), (ctx) => {
    ctx.body = { organizations: orgs.admin.list().map(({ org, seatsUsed }) => presentOrganization(org, seatsUsed)) };
  });

  router.post('/', requireServerAdmin(), async (ctx) => {
    const input = parseInput(createOrganization, await readJson(ctx, options.bodyLimit));
    const org = orgs.admin.create(actorOf(ctx), input, ctx.ip);
    ctx.status = 201;
    ctx.body = presentOrganization(org, 0);
  });

  router.patch('/:id', requireServerAdmin(), async (ctx) => {
    const input = parseInput(updateOrganization, await readJson(ctx, options.bodyLimit));
    const org = orgs.admin.update(actorOf(ctx), ctx.params['id']!, input, ctx.ip);
    ctx.body = presentOrganization(org, orgs.repo.seatsUsed(org.id));
  });

  return router;
}
