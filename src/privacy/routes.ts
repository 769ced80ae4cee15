/** `GET /api/v1/me/export` (a person's own data) and `POST /api/v1/admin/people/:id/erase` (server admins). */
import Router from '@koa/router';
import { actorOf, requireScope, requireServerAdmin } from '../http/authenticate.ts';
import type { AppState } from '../http/state.ts';
import type { PrivacyService } from './service.ts';

export function privacyRouter(privacy: PrivacyService) {
  const router = new Router<AppState>();

  router.get('/api/v1/me/export', requireScope('read'), (ctx) => {
    ctx.set('Content-Disposition', 'attachment; filename="modelshare-export.json"');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = privacy.export(actorOf(ctx), ctx.ip);
  });

  router.post('/api/v1/admin/people/:id/erase', requireServerAdmin(), (ctx) => {
    ctx.body = privacy.erase(actorOf(ctx), ctx.params['id']!, ctx.ip);
  });

  return router;
}
