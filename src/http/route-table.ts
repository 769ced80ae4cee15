/**
 * The shape of one route of the route table: method, path, who may call it, the resource gate, the
 * input schemas and the handler. Each domain declares its routes with `route()`; `app.ts` puts them
 * into one table and `buildRouter` turns the table into the only router. Nothing else registers a
 * route, so who may call is always read off the route's own line, never decided inside a handler.
 */
import type { Context } from 'koa';
import type { z } from 'zod';
import type { ErrorCode } from '../errors.ts';
import type { Scope } from '../identity/tokens.ts';
import type { Actor } from './authenticate.ts';
import type { AppState } from './state.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * The one kind of credential a route takes; every other kind is ignored, as if absent.
 * - `public`: nobody signs in; a bogus `Authorization` header changes nothing.
 * - `page`: an HTML page for anyone, showing the person of a browser session when there is one.
 * - `session`: a browser session cookie; an unsafe method must carry the session's CSRF token
 *   (form field `_csrf`). Without a session a GET is sent to sign in, anything else gets 401.
 * - `token`: a bearer token that carries `scope` (desktop clients, personal access tokens).
 * - `operator`: the operator's own credential (the metrics token, or loopback when configured), never
 *   a person's; `check` refuses anyone else.
 */
export type Access = { kind: 'public' } | { kind: 'page' } | { kind: 'session' } | { kind: 'token'; scope: Scope } | { kind: 'operator'; check: (ctx: Context) => void };

export const access = {
  public: { kind: 'public' },
  page: { kind: 'page' },
  session: { kind: 'session' },
  token: (scope: Scope) => ({ kind: 'token', scope }) as const,
  operator: (check: (ctx: Context) => void) => ({ kind: 'operator', check }) as const,
} as const;

/** The callers the generated refusal test plays, beyond those each access kind implies. */
export type Caller =
  | 'member' // a member (not admin) of the route's organization, or a viewer of its model
  | 'other_org' // an admin of another organization
  | 'not_server_admin' // an organization admin who is no server admin
  | 'sharing_off' // a member whose sharing switch is off
  | 'blocked' // a member whose address the organization blocked
  | 'removed'; // a former member of the model or organization

/** A refusal a gate documents: who is turned away, with which status and code. */
export interface Refusal {
  caller: Caller;
  status: number;
  code: ErrorCode;
}

export type RouteContext = Context & { state: AppState; params: Record<string, string> };

/** What a resource gate sees; it throws an AppError to refuse and returns what the handler needs. */
export interface Gate<G> {
  name: string;
  refusals: readonly Refusal[];
  check(actor: Actor, params: Record<string, string>, ctx: RouteContext): G;
}

/** How the request body is read: small JSON or form bodies parsed here, or a stream the handler pipes. */
export type BodySpec<B> =
  | { kind: 'json'; schema: z.ZodType<B> }
  | { kind: 'form'; schema: z.ZodType<B> }
  /** OAuth endpoints take either JSON or a form; the schema decides what is valid. */
  | { kind: 'params'; schema: z.ZodType<B> }
  /** Raw bytes (`application/octet-stream`), streamed by the handler to the blob store. */
  | { kind: 'stream' };

/** What a route answers besides JSON: a blob (Range, digests), an event stream, or a PEM file. */
export type Produces = 'blob' | 'events' | 'pem';

/** Request headers of the protocol a route reads (see docs/PROTOCOL-GUIDE.md). */
export type ProtocolHeader = 'Idempotency-Key' | 'Modelshare-Comment';

/** The sign-in endpoints' limits per client address and per account (see http/limits.ts). */
export type RateLimit = 'sign_in' | 'token' | 'device_code' | 'user_code';

type ActorOf<A extends Access> = A extends { kind: 'public' } | { kind: 'operator' } ? undefined : A extends { kind: 'page' } ? Actor | undefined : Actor;

export interface Input<A extends Access, P, Q, B, G> {
  actor: ActorOf<A>;
  params: P;
  query: Q;
  body: B;
  /** What the gate found (the organization, the model). */
  gate: G;
  /** The client address (from X-Forwarded-For only behind a trusted proxy). */
  ip: string;
}

export interface RouteSpec<A extends Access, P, Q, B, G> {
  method: Method;
  /** The path template, `:name` for a parameter. */
  path: string;
  /** One line for the OpenAPI document and the logs. */
  summary: string;
  access: A;
  gate?: Gate<G>;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: BodySpec<B>;
  limit?: RateLimit;
  /** The success status; 200 by default. A handler that returns nothing answers 204 unless this says otherwise. */
  status?: number;
  /** Also answered as HTML (a page or a redirect); JSON problem documents otherwise. */
  html?: boolean;
  /** The JSON body of the success answer, for the OpenAPI document (and the tests that hold responses to it). */
  response?: z.ZodType;
  /** What the route answers instead of JSON. */
  produces?: Produces;
  /** Protocol headers the route reads. */
  headers?: readonly ProtocolHeader[];
  /** Problem codes the handler itself may answer, beyond those its access, gate, schemas and body imply. */
  problems?: readonly ErrorCode[];
  handler(input: Input<A, P, Q, B, G>, ctx: RouteContext): unknown;
}

/** A route with its types erased, as the table holds it. */
export type AnyRoute = RouteSpec<Access, any, any, any, any>;

/** Declares a route; the generic parameters are inferred from the schemas and the gate. */
export function route<A extends Access, P = Record<string, string>, Q = Record<string, never>, B = undefined, G = undefined>(
  spec: RouteSpec<A, P, Q, B, G>,
): AnyRoute {
  return spec as unknown as AnyRoute;
}
