/**
 * `ModelshareClient`: a small typed library for the Modelshare client protocol (docs/PROTOCOL-GUIDE.md),
 * for desktop clients to embed and for the `modelshare-client` command. It speaks HTTPS to one
 * server, trusting only the CA it is given; keeps the access token fresh through the refresh token;
 * turns problem documents into `ModelshareError`s with their stable code. Transfers stream (see
 * transfer.ts), events resume (see events.ts): nothing holds a whole file in memory.
 */
import { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';

/** The tokens of one login; `expires_at` is when the access token ends (ms since the epoch). */
export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_at: number;
}

/** Where the client keeps its tokens (a file for the command; a keychain for a desktop client). */
export interface TokenStore {
  load(): Tokens | undefined;
  save(tokens: Tokens | undefined): void;
}

export interface ClientOptions {
  /** The server's public URL, e.g. https://modelshare.example:8443. */
  server: string;
  /** The server's CA (PEM), trusted alone; omit to use the system's CAs. */
  ca?: string | undefined;
  tokens: TokenStore;
  /** Shown to the person approving a device login. */
  clientName?: string;
  /** Milliseconds since the epoch (tests move it). */
  now?: () => number;
}

/** A problem document (RFC 9457) the server answered, or an OAuth error of the sign-in calls. */
export class ModelshareError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problem: Record<string, unknown>;
  constructor(status: number, code: string, detail: string, problem: Record<string, unknown> = {}) {
    super(detail);
    this.name = 'ModelshareError';
    this.status = status;
    this.code = code;
    this.problem = problem;
  }
}

export interface Baseline { seq: number; size: number | null; digest: string | null; created_at: string; author: string }
export interface Packet { seq: number; size: number | null; digest: string | null; author: string; comment: string | null; created_at: string }
export interface Model {
  id: string;
  name: string;
  description: string | null;
  organization_id: string | null;
  owner_id: string;
  role: 'owner' | 'admin' | 'editor' | 'viewer' | null;
  head: number;
  latest_baseline: Baseline | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}
export interface Member { user_id: string; display_name: string; role: string; added_at: string }
export interface PendingInvitation { id: string; kind: string; role: string; model?: { id: string; name: string }; organization?: { id: string; name: string }; expires_at: string }
export interface DeviceStart { device_code: string; user_code: string; verification_uri: string; verification_uri_complete: string; expires_in: number; interval: number }

export interface CallOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  form?: Record<string, string>;
  headers?: Record<string, string>;
  /** A raw body; a function so that a retry can send it again. */
  body?: () => Readable;
  /** Sends no bearer token (the sign-in calls). */
  anonymous?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

const refreshMargin = 30_000;

export class ModelshareClient {
  readonly server: string;
  readonly #dispatcher: Agent;
  readonly #tokens: TokenStore;
  readonly #clientName: string;
  readonly #now: () => number;
  #refreshing: Promise<Tokens> | undefined;

  constructor(options: ClientOptions) {
    this.server = options.server.replace(/\/+$/, '');
    this.#dispatcher = new Agent({ connect: options.ca ? { ca: options.ca } : {}, headersTimeout: 60_000, bodyTimeout: 0 });
    this.#tokens = options.tokens;
    this.#clientName = options.clientName ?? 'modelshare-client';
    this.#now = options.now ?? Date.now;
  }

  /** Closes the connections (the process can then end). */
  close(): Promise<void> {
    return this.#dispatcher.close();
  }

  // ---- sign-in -------------------------------------------------------------------------------

  /** Starts a device login: show `user_code` and `verification_uri` to the person, then call `finishDeviceLogin`. */
  async startDeviceLogin(): Promise<DeviceStart> {
    return (await this.json('POST', '/auth/device', { anonymous: true, form: { client_name: this.#clientName } })) as DeviceStart;
  }

  /** Polls until the person approves (resolves, tokens saved) or denies, or the code expires (rejects). */
  async finishDeviceLogin(start: DeviceStart, options: { signal?: AbortSignal; sleep?: (ms: number) => Promise<void> } = {}): Promise<void> {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let interval = Math.max(1, start.interval) * 1000;
    const until = this.#now() + start.expires_in * 1000;
    for (;;) {
      options.signal?.throwIfAborted();
      await sleep(interval);
      const res = await this.raw('POST', '/auth/token', { anonymous: true, form: { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: start.device_code } });
      const body = (await res.body.json()) as Record<string, unknown>;
      if (res.status === 200) return void this.#keep(body);
      const error = String(body['error'] ?? 'invalid_response');
      if (error === 'authorization_pending') {
        if (this.#now() > until) throw new ModelshareError(400, 'expired_token', 'The login code expired; start again');
        continue;
      }
      if (error === 'slow_down') {
        interval += 5000; // RFC 8628 §3.5
        continue;
      }
      throw new ModelshareError(res.status, error, error === 'access_denied' ? 'The login was denied in the browser' : error === 'expired_token' ? 'The login code expired; start again' : String(body['error_description'] ?? error));
    }
  }

  /** Ends this login on the server (revoking its refresh token ends its access tokens too) and forgets the tokens. */
  async logout(): Promise<void> {
    const tokens = this.#tokens.load();
    if (tokens) await ModelshareClient.answer(await this.raw('POST', '/auth/revoke', { anonymous: true, form: { token: tokens.refresh_token } }));
    this.#tokens.save(undefined);
  }

  get signedIn(): boolean {
    return this.#tokens.load() !== undefined;
  }

  #keep(body: Record<string, unknown>): Tokens {
    const tokens = { access_token: String(body['access_token']), refresh_token: String(body['refresh_token']), expires_at: this.#now() + Number(body['expires_in']) * 1000 };
    this.#tokens.save(tokens);
    return tokens;
  }

  /**
   * A fresh access token. Refresh tokens rotate and a reused one ends the whole login, so one
   * refresh runs at a time, and tokens another process refreshed meanwhile are taken as they are.
   */
  async accessToken(force = false): Promise<string> {
    const tokens = this.#tokens.load();
    if (!tokens) throw new ModelshareError(401, 'not_signed_in', 'Not signed in: run `modelshare-client login` first');
    if (!force && tokens.expires_at - refreshMargin > this.#now()) return tokens.access_token;
    this.#refreshing ??= this.#refresh(tokens).finally(() => (this.#refreshing = undefined));
    return (await this.#refreshing).access_token;
  }

  async #refresh(used: Tokens): Promise<Tokens> {
    const current = this.#tokens.load();
    if (current && current.refresh_token !== used.refresh_token && current.expires_at - refreshMargin > this.#now()) return current;
    const res = await this.raw('POST', '/auth/token', { anonymous: true, form: { grant_type: 'refresh_token', refresh_token: used.refresh_token } });
    const body = (await res.body.json()) as Record<string, unknown>;
    if (res.status !== 200) {
      this.#tokens.save(undefined);
      throw new ModelshareError(401, 'not_signed_in', 'The login has ended (revoked or expired): run `modelshare-client login` again');
    }
    return this.#keep(body);
  }

  // ---- calls ---------------------------------------------------------------------------------

  /** One call, answered as it comes: a 401 with a valid-looking login refreshes once and retries. */
  async raw(method: string, path: string, options: CallOptions = {}): Promise<RawResponse> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const send = async (force: boolean) => {
      const headers: Record<string, string> = { accept: 'application/json, application/problem+json', ...options.headers };
      if (!options.anonymous) headers['authorization'] = `Bearer ${await this.accessToken(force)}`;
      let body: string | Readable | undefined;
      if (options.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.json);
      } else if (options.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(options.form).toString();
      } else if (options.body) {
        headers['content-type'] ??= 'application/octet-stream';
        body = options.body();
      }
      return request(url, { method: method as Dispatcher.HttpMethod, headers, body, dispatcher: this.#dispatcher });
    };
    let res = await send(false);
    if (res.statusCode === 401 && !options.anonymous) {
      await res.body.dump();
      res = await send(true);
    }
    return { status: res.statusCode, headers: res.headers, body: res.body };
  }

  /** A call whose answer is JSON; a problem document becomes a `ModelshareError`. */
  async json(method: string, path: string, options: CallOptions = {}): Promise<unknown> {
    const res = await this.raw(method, path, options);
    return ModelshareClient.answer(res);
  }

  /** Reads a JSON answer, or throws the problem it carries. */
  static async answer(res: RawResponse): Promise<unknown> {
    if (res.status === 204) {
      await res.body.dump();
      return undefined;
    }
    const type = String(res.headers['content-type'] ?? '');
    const body = /json/.test(type) ? ((await res.body.json()) as Record<string, unknown>) : (await res.body.dump(), {});
    if (res.status >= 400) throw new ModelshareError(res.status, String(body['code'] ?? body['error'] ?? `http_${res.status}`), String(body['detail'] ?? body['error_description'] ?? body['title'] ?? `The server answered ${res.status}`), body);
    return body;
  }

  me(): Promise<Record<string, unknown>> {
    return this.json('GET', '/api/v1/me') as Promise<Record<string, unknown>>;
  }

  /** Every model of the caller's (all pages). */
  async models(): Promise<Model[]> {
    const all: Model[] = [];
    for (let next: string | null | undefined; ; ) {
      const page = (await this.json('GET', '/api/v1/models', { query: { limit: 200, next: next ?? undefined } })) as { models: Model[]; next: string | null };
      all.push(...page.models);
      if (!(next = page.next)) return all;
    }
  }

  model(id: string): Promise<Model> {
    return this.json('GET', `/api/v1/models/${encodeURIComponent(id)}`) as Promise<Model>;
  }

  createModel(input: { name: string; description?: string; organization_id?: string }): Promise<Model> {
    return this.json('POST', '/api/v1/models', { json: input }) as Promise<Model>;
  }

  async members(id: string): Promise<Member[]> {
    return ((await this.json('GET', `/api/v1/models/${encodeURIComponent(id)}/members`)) as { members: Member[] }).members;
  }

  invite(id: string, email: string, role: 'admin' | 'editor' | 'viewer'): Promise<Record<string, unknown>> {
    return this.json('POST', `/api/v1/models/${encodeURIComponent(id)}/invitations`, { json: { email, role } }) as Promise<Record<string, unknown>>;
  }

  async invitations(): Promise<PendingInvitation[]> {
    return ((await this.json('GET', '/api/v1/invitations')) as { invitations: PendingInvitation[] }).invitations;
  }

  acceptInvitation(invitationId: string): Promise<Record<string, unknown>> {
    return this.json('POST', `/api/v1/invitations/${encodeURIComponent(invitationId)}/accept`) as Promise<Record<string, unknown>>;
  }

  /** The packets after `after`, a page at a time (`head` is the model's newest). */
  packets(id: string, after: number, next?: string): Promise<{ packets: Packet[]; head: number; next: string | null }> {
    return this.json('GET', `/api/v1/models/${encodeURIComponent(id)}/packets`, { query: next ? { next, limit: 200 } : { after, limit: 200 } }) as Promise<{ packets: Packet[]; head: number; next: string | null }>;
  }

  /** Every baseline, newest first. */
  async baselines(id: string): Promise<Baseline[]> {
    const all: Baseline[] = [];
    for (let next: string | null | undefined; ; ) {
      const page = (await this.json('GET', `/api/v1/models/${encodeURIComponent(id)}/baselines`, { query: { limit: 200, next: next ?? undefined } })) as { baselines: Baseline[]; next: string | null };
      all.push(...page.baselines);
      if (!(next = page.next)) return all;
    }
  }
}
