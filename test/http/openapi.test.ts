import test from 'ava';
import { contractChecker, schemaCompiler, type ContractChecker } from '../helpers/contract.ts';
import { addMember } from '../helpers/models.ts';
import { digestHeader, person, writeOut, type Caller } from '../helpers/people.ts';
import { startServer, type TestServer } from '../helpers/server.ts';

type Json = Record<string, any>;

async function documentOf(server: TestServer): Promise<Json> {
  const res = await server.fetch(`${server.url}/api/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`openapi.json answered ${res.status}`);
  return (await res.json()) as Json;
}

/** The same person, every answer held to the document. */
function checked(caller: Caller, checker: ContractChecker): Caller {
  return {
    ...caller,
    call: async (method, path, options) => {
      const res = await caller.call(method, path, options);
      const type = res.headers.get('content-type') ?? '';
      checker.check(method, path, res.status, type, /json/.test(type) && res.bytes.length > 0 ? res.body : undefined);
      return res;
    },
  };
}

test('every route of the table is in the document, with its security, and every schema compiles', async (t) => {
  const server = await startServer(t);
  const doc = await documentOf(server);
  t.is(doc['openapi'], '3.1.0');
  t.true(server.routes.length > 40);
  for (const r of server.routes) {
    const op = doc['paths'][r.path.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[r.method.toLowerCase()] as Json | undefined;
    t.truthy(op, `${r.method} ${r.path} is missing from openapi.json`);
    if (!op) continue;
    if (r.access.kind === 'token') t.deepEqual(op['security'], [{ bearer: [r.access.scope] }], `${r.path} security`);
    if (r.access.kind === 'public') t.deepEqual(op['security'], [], `${r.path} is public`);
    for (const name of [...r.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1])) t.true((op['parameters'] as Json[]).some((p) => p['in'] === 'path' && p['name'] === name), `${r.path} documents :${name}`);
  }
  const operations = Object.values(doc['paths'] as Json).flatMap((item) => Object.keys(item as Json));
  t.is(operations.length, server.routes.length, 'nothing in the document that is not a route');
  const writeOutOp = doc['paths']['/api/v1/models/{id}/packets']['post'];
  t.deepEqual(writeOutOp['parameters'].map((p: Json) => p['name']).sort(), ['Content-Digest', 'Idempotency-Key', 'Modelshare-Comment', 'base', 'id']);
  t.deepEqual(writeOutOp['responses']['409']['content']['application/problem+json']['schema']['allOf'][1]['properties']['code']['enum'], ['not_up_to_date']);
  t.truthy(doc['paths']['/api/v1/models/{id}/baselines/{seq}']['get']['parameters'].find((p: Json) => p['name'] === 'If-Range'));
  t.truthy(doc['paths']['/api/v1/events']['get']['parameters'].find((p: Json) => p['name'] === 'Last-Event-ID'));
  t.truthy(doc['paths']['/api/v1/events']['get']['responses']['410']);
  t.truthy(doc['paths']['/api/v1/events']['get']['responses']['429']['headers']['Retry-After']);
  t.deepEqual(Object.keys(doc['components']['securitySchemes']).sort(), ['bearer', 'session']);
  // Every schema in the document is JSON Schema 2020-12 that ajv can compile.
  const compile = schemaCompiler(doc);
  let compiled = 0;
  for (const [path, item] of Object.entries(doc['paths'] as Json)) {
    for (const [method, op] of Object.entries(item as Json)) {
      const media = [...Object.values((op as Json)['responses'] as Json), (op as Json)['requestBody'] ?? {}].flatMap((r) => Object.values(((r as Json)['content'] ?? {}) as Json));
      for (const { schema } of media as Json[]) {
        t.notThrows(() => compile(schema as Json), `${method} ${path}`);
        compiled++;
      }
    }
  }
  t.true(compiled > 100);
});

test('the answers of a sharing cycle match the document', async (t) => {
  const server = await startServer(t);
  const checker = contractChecker(await documentOf(server));
  const owner = checked(person(server, 'Olive'), checker);
  const editor = checked(person(server, 'Eddie'), checker);
  const viewer = checked(person(server, 'Vera'), checker);
  const outsider = checked(person(server, 'Otto'), checker);
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge', description: 'Main span' } });
  t.is(created.status, 201);
  const m = `/api/v1/models/${created.body['id']}`;
  await addMember(t, owner, String(created.body['id']), editor, 'editor');
  await addMember(t, owner, String(created.body['id']), viewer, 'viewer');
  const baseline = Buffer.from('baseline bytes');
  t.is((await owner.call('POST', `${m}/baselines?seq=0`, { raw: baseline, headers: { 'content-digest': digestHeader(baseline) } })).status, 201);
  t.is((await writeOut(editor, String(created.body['id']), 0, Buffer.from('p1'), { 'modelshare-comment': encodeURIComponent('first, ünïcode'), 'idempotency-key': 'k-1' })).status, 201);
  t.is((await writeOut(editor, String(created.body['id']), 0, Buffer.from('p1'), { 'idempotency-key': 'k-1' })).status, 201);
  t.is((await writeOut(owner, String(created.body['id']), 0, Buffer.from('stale'))).status, 409);
  t.is((await writeOut(viewer, String(created.body['id']), 1, Buffer.from('no'))).status, 403);
  t.is((await owner.call('POST', `${m}/packets?base=1`, { raw: Buffer.from('x'), headers: { 'content-digest': digestHeader(Buffer.from('y')) } })).status, 400);
  const calls: [Caller, string, string, number][] = [
    [owner, 'GET', '/api/v1/models', 200],
    [viewer, 'GET', m, 200],
    [viewer, 'GET', `${m}/members`, 200],
    [owner, 'GET', `${m}/invitations`, 200],
    [viewer, 'GET', `${m}/baselines`, 200],
    [viewer, 'GET', `${m}/packets?after=0`, 200],
    [viewer, 'GET', `${m}/packets?limit=0`, 400],
    [viewer, 'GET', `${m}/baselines/latest`, 200],
    [viewer, 'GET', `${m}/packets/1`, 200],
    [viewer, 'GET', `${m}/packets/7`, 404],
    [outsider, 'GET', m, 404],
    [viewer, 'PATCH', m, 403],
    [owner, 'GET', '/api/v1/me', 200],
  ];
  for (const [who, method, path, status] of calls) t.is((await who.call(method, path, method === 'PATCH' ? { json: { name: 'x' } } : {})).status, status, `${method} ${path}`);
  t.is((await owner.call('PATCH', m, { json: { name: 'Bridge 2' } })).status, 200);
  t.is((await owner.call('PUT', `${m}/members/${viewer.id}`, { json: { role: 'editor' } })).status, 200);
  t.is((await owner.call('POST', `${m}/owner`, { json: { user_id: editor.id } })).status, 200);
  t.deepEqual(checker.failures, []);
  t.true(checker.checked >= 25, `checked ${checker.checked} answers`);
});
