/**
 * The one error path: every error thrown below this middleware becomes an RFC 9457 problem document
 * with a stable `code`. Only AppErrors (and Koa's own HTTP errors, which carry no internals) say
 * anything specific; anything else is logged with its stack and answered with a generic 500.
 */
import type { Context, Next } from 'koa';
import { AppError, errorCatalog, type ErrorCode } from '../errors.ts';
import type { AppState } from './state.ts';
import { errorPage } from '../web/error-page.ts';

const codeForStatus: Record<number, ErrorCode> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  408: 'request_timeout',
  411: 'length_required',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  416: 'range_not_satisfiable',
  429: 'too_many_requests',
  431: 'header_too_large',
  501: 'not_implemented',
  503: 'service_unavailable',
  507: 'insufficient_storage',
};

/** The problem document for an error code; used by the middleware and by the raw socket handler. */
export function problemBody(code: ErrorCode, detail: string, requestId?: string, extra: Record<string, unknown> = {}) {
  const { status, title } = errorCatalog[code];
  return { type: `urn:modelshare:problem:${code}`, title, status, detail, code, ...extra, ...(requestId ? { request_id: requestId } : {}) };
}

function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  // Koa's http-errors (from ctx.throw and the router's 405/501) have `expose` set for 4xx.
  const e = error as { status?: number; expose?: boolean; message?: string; headers?: Record<string, string> };
  const code = typeof e?.status === 'number' ? codeForStatus[e.status] : undefined;
  if (code && e.expose) return new AppError(code, errorCatalog[code].title, { headers: e.headers ?? {} });
  return undefined;
}

export function problemMiddleware() {
  return async (ctx: Context & { state: AppState }, next: Next) => {
    try {
      await next();
      // Nothing answered (404), or the router found the path but not the method (405, with Allow set).
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) throw new AppError('not_found', 'There is no resource at this address');
        if (ctx.status === 405) throw new AppError('method_not_allowed', `This address accepts ${ctx.response.get('Allow')}`);
        // A method no route knows (PROPFIND, TRACE) is not a server fault: 405, like any method a path does not take.
        if (ctx.status === 501) throw new AppError('method_not_allowed', 'This address does not accept that method');
      }
    } catch (error) {
      let known = toAppError(error);
      if (!known) {
        ctx.state.log.error({ err: error }, 'request failed');
        known = new AppError('internal_error', 'The server could not complete the request; the request id identifies it in the server log');
      } else if (known.status >= 500) {
        ctx.state.log.warn({ code: known.code, detail: known.message }, 'request not served');
      }
      // A streamed response that fails after its headers went out cannot become a problem document.
      if (ctx.headerSent || !ctx.writable) {
        ctx.req.socket.destroy();
        return;
      }
      // A body left unread (refused before it was read, or past a limit) is not read to the end to
      // keep the connection: it closes after this answer.
      if (!ctx.req.readableEnded) ctx.set('Connection', 'close');
      ctx.remove('Content-Digest');
      ctx.remove('Content-Range');
      ctx.remove('ETag');
      ctx.set(known.headers);
      ctx.status = known.status;
      // A browser that asks for a page gets one, with what to do next; everyone else the problem document.
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = errorPage({ status: known.status, code: known.code, title: errorCatalog[known.code].title, detail: known.message, requestId: ctx.state.requestId, extra: known.extra });
        return;
      }
      ctx.type = 'application/problem+json';
      ctx.body = problemBody(known.code, known.message, ctx.state.requestId, known.extra);
    }
  };
}
