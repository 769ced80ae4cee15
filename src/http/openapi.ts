/**
 * The OpenAPI 3.1 document of the whole server, generated from the route table: every route's
 * parameter, query and body schemas (zod 4 to JSON Schema 2020-12, as the request must look on the
 * wire), who may call it (security), the problem documents it may answer (RFC 9457, the codes of
 * errors.ts that its access kind, gate, schemas and body imply), and the protocol's headers. The
 * document cannot drift from the code: it is made from the same declarations the router runs.
 */
import { z } from 'zod';
import { errorCatalog, type ErrorCode } from '../errors.ts';
import { sessionCookie } from './authenticate.ts';
import type { AnyRoute, ProtocolHeader } from './route-table.ts';

type Json = Record<string, unknown>;

export interface OpenApiOptions {
  version: string;
  publicUrl: string;
}

/** The tag of a route: its first path segments, so a reader finds each domain together. */
function tagOf(r: AnyRoute): string {
  if (r.html) return 'Browser pages';
  if (r.path.startsWith('/auth/')) return 'Sign-in';
  if (r.path.startsWith('/api/v1/me') || r.path.startsWith('/api/v1/invitations')) return 'Me';
  if (r.path.startsWith('/api/v1/organizations') || r.path.startsWith('/api/v1/admin')) return 'Organizations';
  if (r.path.includes('/events')) return 'Events';
  if (r.path.includes('/baselines') || r.path.includes('/packets')) return 'History';
  if (r.path.startsWith('/api/v1/models')) return 'Models';
  return 'Server';
}

/** JSON Schema of a zod schema as the client sends it (the input side of transforms). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }) as Json;
  delete out['$schema'];
  return out;
}

/** A response schema, with its named parts (`.meta({ id })`) moved to components/schemas. */
function responseSchema(schema: z.ZodType, components: Json): Json {
  const generated = JSON.stringify(z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }));
  const out = JSON.parse(generated.replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
  delete out['$schema'];
  for (const [id, def] of Object.entries((out['$defs'] ?? {}) as Record<string, Json>)) components[id] = def;
  delete out['$defs'];
  return out;
}

const headerDocs: Record<ProtocolHeader | 'Content-Digest' | 'Last-Event-ID' | 'Range' | 'If-Range' | 'If-None-Match' | 'Want-Content-Digest' | 'Want-Repr-Digest', Json> = {
  'Idempotency-Key': { name: 'Idempotency-Key', in: 'header', description: 'A key the client makes (a UUID) and sends again with every retry of the same write-out: the retry answers the first result and creates nothing twice (then with `Idempotent-Replayed: true`).', schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,100}$' } },
  'Modelshare-Comment': { name: 'Modelshare-Comment', in: 'header', description: 'The comment of the packet: percent-encoded UTF-8, at most 2,000 characters once decoded.', schema: { type: 'string' } },
  'Content-Digest': { name: 'Content-Digest', in: 'header', required: true, description: 'RFC 9530 digest of the body: `sha-256=:<base64>:` (or sha-512). A body that does not match is refused with `digest_mismatch` and leaves nothing behind.', schema: { type: 'string' } },
  'Last-Event-ID': { name: 'Last-Event-ID', in: 'header', description: 'The id of the last event received: the stream replays what came after it (410 `events_expired` when that is older than the replay window).', schema: { type: 'string', pattern: '^\\d{1,15}$' } },
  Range: { name: 'Range', in: 'header', description: 'One byte range (`bytes=N-`) to resume an interrupted download.', schema: { type: 'string' } },
  'If-Range': { name: 'If-Range', in: 'header', description: 'The ETag of the partial download: the range is served only if the bytes are still the same, else the whole blob (200).', schema: { type: 'string' } },
  'If-None-Match': { name: 'If-None-Match', in: 'header', description: 'An ETag the client holds: 304 when unchanged.', schema: { type: 'string' } },
  'Want-Content-Digest': { name: 'Want-Content-Digest', in: 'header', description: 'RFC 9530 preferences, e.g. `sha-512=3, sha-256=1`.', schema: { type: 'string' } },
  'Want-Repr-Digest': { name: 'Want-Repr-Digest', in: 'header', description: 'RFC 9530 preferences for Repr-Digest.', schema: { type: 'string' } },
};

const blobHeaders = {
  'Content-Digest': { description: 'RFC 9530 digest of this content (whole blob only)', schema: { type: 'string' } },
  'Repr-Digest': { description: 'RFC 9530 digest of the whole blob, also on a 206, to check a resumed download', schema: { type: 'string' } },
  ETag: { description: 'Strong validator, for If-Range and If-None-Match', schema: { type: 'string' } },
  'Modelshare-Seq': { description: 'The sequence number of the baseline or packet', schema: { type: 'integer' } },
  'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } },
};

/** The problem codes a route may answer, by status. */
function problemsOf(r: AnyRoute): Map<number, Set<ErrorCode>> {
  const codes: ErrorCode[] = ['internal_error'];
  if (r.params || r.path.includes(':')) codes.push('not_found', 'validation_failed');
  if (r.query) codes.push('validation_failed');
  if (r.access.kind === 'token') codes.push('unauthorized', 'insufficient_scope', 'too_many_requests');
  if (r.access.kind === 'session') codes.push('unauthorized', 'csrf_failed');
  if (r.limit) codes.push('too_many_requests');
  for (const refusal of r.gate?.refusals ?? []) codes.push(refusal.code);
  switch (r.body?.kind) {
    case 'json':
      codes.push('malformed_json', 'validation_failed', 'payload_too_large', 'unsupported_media_type');
      break;
    case 'form':
    case 'params':
      codes.push('validation_failed', 'payload_too_large', 'unsupported_media_type');
      break;
    case 'stream':
      codes.push('digest_required', 'digest_mismatch', 'bad_request', 'request_incomplete', 'length_required', 'payload_too_large', 'unsupported_media_type', 'service_unavailable');
      break;
    case undefined:
      if (r.method !== 'GET') codes.push('bad_request');
  }
  if (r.produces === 'blob') codes.push('range_not_satisfiable');
  if (r.produces === 'events') codes.push('validation_failed');
  codes.push(...(r.problems ?? []));
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of codes) {
    const status = errorCatalog[code].status;
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  return byStatus;
}

function problemResponse(codes: Set<ErrorCode>, status: number): Json {
  const list = [...codes].sort();
  const headers: Json = {};
  if (status === 429 || status === 503) headers['Retry-After'] = { description: 'Seconds to wait before trying again', schema: { type: 'integer' } };
  if (status === 401) headers['WWW-Authenticate'] = { schema: { type: 'string' } };
  return {
    description: list.map((c) => `\`${c}\`: ${errorCatalog[c].title}`).join('; '),
    ...(Object.keys(headers).length ? { headers } : {}),
    content: { 'application/problem+json': { schema: { allOf: [{ $ref: '#/components/schemas/Problem' }, { properties: { code: { enum: list } } }] } } },
  };
}

function successResponse(r: AnyRoute, components: Json): [string, Json] {
  // A handler that returns nothing answers 204: without a response schema, both are documented.
  const status = String(r.status ?? 200);
  if (r.produces === 'blob') {
    return [status, { description: 'The bytes (200), or the range asked for (206, with Content-Range); 304 when If-None-Match matches', headers: blobHeaders, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } }];
  }
  if (r.produces === 'events') {
    return [status, { description: 'A Server-Sent Events stream: `packet`, `baseline`, `membership` and `model` events, each with an `id` for Last-Event-ID; a comment line every 15 s; a last `error` event `{code}` when the stream is ended for the caller (revoked token, removed member).', content: { 'text/event-stream': { schema: { type: 'string' } } } }];
  }
  if (r.produces === 'pem') return [status, { description: 'The PEM certificate', content: { 'application/x-pem-file': { schema: { type: 'string' } } } }];
  if (r.html) return [status, { description: 'An HTML page, or a redirect (302/303)', content: { 'text/html': { schema: { type: 'string' } } } }];
  if (!r.response && r.method !== 'GET') return [status, { description: `${r.summary}: a JSON object (200), or no content (204)`, content: { 'application/json': { schema: { type: 'object' } } } }];
  return [status, { description: r.summary, content: { 'application/json': { schema: r.response ? responseSchema(r.response, components) : { type: 'object' } } } }];
}

function operation(r: AnyRoute, components: Json): Json {
  const parameters: Json[] = [];
  const pathNames = [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!);
  const paramProps = (r.params ? jsonSchema(r.params, 'input')['properties'] : {}) as Record<string, Json> | undefined;
  for (const name of pathNames) parameters.push({ name, in: 'path', required: true, schema: paramProps?.[name] ?? { type: 'string' } });
  if (r.query) {
    const q = jsonSchema(r.query, 'input');
    const required = new Set((q['required'] as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((q['properties'] ?? {}) as Record<string, Json>)) parameters.push({ name, in: 'query', required: required.has(name), schema });
  }
  for (const h of r.headers ?? []) parameters.push(headerDocs[h]);
  if (r.body?.kind === 'stream') parameters.push(headerDocs['Content-Digest']);
  if (r.produces === 'blob') parameters.push(headerDocs.Range, headerDocs['If-Range'], headerDocs['If-None-Match'], headerDocs['Want-Content-Digest'], headerDocs['Want-Repr-Digest']);
  if (r.produces === 'events') parameters.push(headerDocs['Last-Event-ID'], { name: 'last_event_id', in: 'query', description: 'Last-Event-ID for clients that cannot set headers', schema: { type: 'string' } });

  const op: Json = { operationId: `${r.method.toLowerCase()}${r.path.replace(/[/:{}.-]+(\w)/g, (_m, c: string) => c.toUpperCase()).replace(/\W/g, '')}`, summary: r.summary, tags: [tagOf(r)] };
  if (parameters.length) op['parameters'] = parameters;
  if (r.access.kind === 'token') op['security'] = [{ bearer: [r.access.scope] }];
  else if (r.access.kind === 'session') op['security'] = [{ session: [] }];
  else if (r.access.kind === 'page') op['security'] = [{ session: [] }, {}];
  else op['security'] = [];
  if (r.body) {
    if (r.body.kind === 'stream') {
      op['requestBody'] = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } };
    } else {
      const schema = jsonSchema(r.body.schema, 'input');
      const content: Json = {};
      if (r.body.kind !== 'form') content['application/json'] = { schema };
      const form = { schema: r.access.kind === 'session' ? { allOf: [schema, { properties: { _csrf: { type: 'string' } }, required: ['_csrf'] }] } : schema };
      if (r.body.kind !== 'json') content['application/x-www-form-urlencoded'] = form;
      // Browser forms may also come as multipart (a form that uploads a file; see http/body.ts readForm).
      if (r.access.kind === 'session') content['multipart/form-data'] = form;
      op['requestBody'] = { required: true, content };
    }
  }
  const [status, success] = successResponse(r, components);
  const responses: Json = { [status]: success };
  if (!r.response && r.method !== 'GET' && !r.status && !r.html) responses['204'] = { description: 'Done; no content' };
  for (const [problemStatus, codes] of problemsOf(r)) responses[String(problemStatus)] = problemResponse(codes, problemStatus);
  // The OAuth endpoints answer their own errors in OAuth's format (RFC 6749 §5.2, RFC 8628 §3.5).
  if (r.limit === 'token') responses['400'] = { description: 'An OAuth error: authorization_pending, slow_down, access_denied, expired_token, invalid_grant or invalid_request', content: { 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } } };
  op['responses'] = responses;
  return op;
}

/** The OpenAPI 3.1 document of `table`. */
export function openApiDocument(table: readonly AnyRoute[], options: OpenApiOptions): Json {
  const components: Json = {
    Problem: {
      type: 'object',
      description: 'An RFC 9457 problem document. Branch on `code`, which never changes meaning; `detail` is for people.',
      required: ['type', 'title', 'status', 'code'],
      properties: {
        type: { type: 'string', description: '`urn:modelshare:problem:<code>`' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        code: { type: 'string', enum: Object.keys(errorCatalog) },
        request_id: { type: 'string' },
        head: { type: 'integer', description: 'not_up_to_date: the head to read in to' },
        limit: { description: 'payload_too_large and the other limits: the limit hit' },
        errors: { type: 'array', description: 'validation_failed: one entry a field', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
      },
    },
    OAuthError: { type: 'object', required: ['error'], properties: { error: { type: 'string' }, error_description: { type: 'string' } } },
  };
  const paths: Record<string, Json> = {};
  for (const r of table) {
    const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = operation(r, components);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Modelshare',
      version: options.version,
      description: 'The client protocol of Modelshare (see docs/PROTOCOL-GUIDE.md). Generated from the server\'s route table.',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: options.publicUrl }],
    tags: [
      { name: 'Sign-in', description: 'Device login (RFC 8628 shape), token refresh and revocation, browser sign-in' },
      { name: 'Me' },
      { name: 'Models' },
      { name: 'History', description: 'Baselines and change packets: write out, read in' },
      { name: 'Events', description: 'Server-Sent Events with replay' },
      { name: 'Organizations' },
      { name: 'Server', description: 'Health, readiness, the CA certificate, this document' },
      { name: 'Browser pages', description: 'HTML pages for people in a browser (session cookie + CSRF); not for clients' },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An access token from the device login (`POST /auth/token`) or a personal access token. The security requirement names the scope the token must carry: read, write or admin.' },
        session: { type: 'apiKey', in: 'cookie', name: sessionCookie, description: 'A browser session (pages only); unsafe methods also need the CSRF token as the `_csrf` form field.' },
      },
    },
  };
}
