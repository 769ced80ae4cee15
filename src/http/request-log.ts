/**
 * Request ids and the access log: one line per request, written when the response is finished (or
 * the client went away), with no query string, headers or bodies, which can carry secrets. Passing
 * health probes are logged at debug.
 */
import crypto from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Log } from '../log.ts';
import type { AppState } from './state.ts';

const acceptableId = /^[A-Za-z0-9._-]{1,64}$/;
const probes = new Set(['/healthz', '/readyz']);

export function requestLog(log: Log) {
  return async (ctx: Context & { state: AppState }, next: Next) => {
    const started = process.hrtime.bigint();
    // Taken now: a mounted app (the demo provider) rewrites the URL on its way in.
    const path = ctx.path;
    // Also taken now: once the client has gone, its socket no longer knows its address.
    const remote = ctx.ip;
    const incoming = ctx.get('X-Request-Id');
    const requestId = acceptableId.test(incoming) ? incoming : crypto.randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = log.child({ req_id: requestId });
    ctx.set('X-Request-Id', requestId);
    const done = () => {
      ctx.res.off('finish', done);
      ctx.res.off('close', done);
      const status = ctx.res.writableFinished ? ctx.status : 499;
      // A probe that passes (a container's healthcheck every 30 s, a load balancer's every few) is
      // logged at debug: thousands of lines a day that say nothing. A failing one stays at info.
      const level = status === 200 && probes.has(path) ? 'debug' : 'info';
      ctx.state.log[level](
        {
          method: ctx.method,
          path,
          status,
          ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
          remote,
        },
        'request',
      );
    };
    ctx.res.once('finish', done);
    ctx.res.once('close', done);
    await next();
  };
}
