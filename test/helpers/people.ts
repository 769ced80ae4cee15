/**
 * People with desktop-login tokens, made through the identity service (the sign-in flows themselves
 * are tested in test/identity/), and a small API client that speaks for one of them.
 */
import crypto from 'node:crypto';
import type { TestServer } from './server.ts';

export interface Caller {
  id: string;
  email: string;
  token: string;
  /** Calls the API as this person; JSON in and out unless `raw` is given. */
  call(method: string, path: string, options?: { json?: unknown; raw?: Buffer; headers?: Record<string, string> }): Promise<{ status: number; headers: Headers; body: Record<string, unknown>; bytes: Buffer }>;
}

export function apiCall(server: TestServer, token: string | undefined): Caller['call'] {
  return async (method, path, options = {}) => {
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers['authorization'] = `Bearer ${token}`;
    let body: Buffer | string | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.raw) {
      headers['content-type'] ??= 'application/octet-stream';
      body = options.raw;
    }
    const res = await server.fetch(`${server.url}${path}`, { method, headers, body }).catch((error: Error & { cause?: { code?: string; message?: string } }) => {
      // undici says only "fetch failed": name what the connection did, so a failure says why.
      throw new Error(`${method} ${path}: ${error.message} (${error.cause?.code ?? ''} ${error.cause?.message ?? ''})`, { cause: error });
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    const parsed = /json/.test(type) && bytes.length > 0 ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>) : {};
    return { status: res.status, headers: res.headers as unknown as Headers, body: parsed, bytes };
  };
}

/** A signed-in person with a desktop login. */
export function person(server: TestServer, name: string, options: { verified?: boolean; email?: string } = {}): Caller {
  const email = options.email ?? `${name.toLowerCase()}@firm.example`;
  const identity = server.services.identity;
  const p = identity.people.signIn({ issuer: 'https://test-idp.example', subject: `sub-${name}-${crypto.randomUUID()}`, email, emailVerified: options.verified ?? true, name, serverAdmin: false });
  // The whole sign-in, organizations included: people of firm.example join the test server's
  // organization (with sharing on while seats last), so every sharing call meets the real gate.
  server.services.orgs.recordSignIn(p, [], '127.0.0.1');
  const { tokens } = identity.tokens.startLogin(p.id, `${name}'s modeller`);
  return { id: p.id, email, token: tokens.access_token, call: apiCall(server, tokens.access_token) };
}

export const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest();
export const digestHeader = (bytes: Buffer) => `sha-256=:${sha256(bytes).toString('base64')}:`;

/** Uploads bytes as a packet written against `base`. */
export function writeOut(caller: Caller, modelId: string, base: number, bytes: Buffer, headers: Record<string, string> = {}) {
  return caller.call('POST', `/api/v1/models/${modelId}/packets?base=${base}`, { raw: bytes, headers: { 'content-digest': digestHeader(bytes), ...headers } });
}
