/**
 * `GET /assets/:name`: the console's static files, from a fixed list compiled into the package.
 * Nothing else on disk is reachable; each file is cached by browsers for a day.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { access, route, type AnyRoute } from '../http/route-table.ts';
import { consoleCss } from './console-css.ts';

const files = new Map([['console.css', { type: 'text/css; charset=utf-8', body: Buffer.from(consoleCss) }]]);

export function assetRoutes(): AnyRoute[] {
  const loaded = files;
  return [
    route({
      method: 'GET', path: '/assets/:name', summary: "The console's stylesheet", access: access.public, params: z.object({ name: z.string() }),
      handler: ({ params }, ctx) => {
        const file = loaded.get(params.name);
        if (!file) throw new AppError('not_found', 'There is no such file');
        ctx.set('Cache-Control', 'public, max-age=86400');
        ctx.type = file.type;
        ctx.body = file.body;
      },
    }),
  ];
}
