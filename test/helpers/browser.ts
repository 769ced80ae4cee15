/**
 * A scripted browser: a cookie jar per origin, redirects followed by hand, forms posted. Enough to
 * walk a real sign-in through the server and a real OpenID provider, as a person's browser does.
 */
import type { ExecutionContext } from 'ava';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

export interface Page {
  status: number;
  url: string;
  location: string | null;
  body: string;
  headers: Headers;
}

export interface BrowserOptions {
  /**
   * One cookie jar per origin as the address bar shows it, as real browsers keep them. By default
   * an alias shares the jar of the origin it stands for.
   */
  jarPerOrigin?: boolean;
}

export class Browser {
  readonly #agent: Agent;
  readonly #jar = new Map<string, Map<string, string>>();
  /**
   * Origins that stand for another (the server's public_url → where the test server listens). A
   * request to an alias is sent to the other's address, but with the alias's Host and TLS name, as
   * if DNS pointed the alias there.
   */
  readonly #aliases: Map<string, string>;
  readonly #options: BrowserOptions;

  constructor(t: ExecutionContext, cas: string[], aliases: Record<string, string> = {}, options: BrowserOptions = {}) {
    const connector = buildConnector({ ca: cas });
    const byHost = new Map(Object.entries(aliases).map(([from, to]) => [new URL(from).host, new URL(to)]));
    this.#agent = new Agent({
      connect: (opts, callback) => {
        const target = byHost.get(opts.port && opts.port !== '443' ? `${opts.hostname}:${opts.port}` : opts.hostname);
        connector(target ? { ...opts, hostname: target.hostname, port: target.port, servername: opts.hostname } : opts, callback);
      },
    });
    this.#aliases = new Map(Object.entries(aliases));
    this.#options = options;
    t.teardown(() => this.#agent.close());
  }

  #jarOrigin(url: URL): string {
    return this.#options.jarPerOrigin ? url.origin : (this.#aliases.get(url.origin) ?? url.origin);
  }

  cookies(origin: string): Map<string, string> {
    let jar = this.#jar.get(origin);
    if (!jar) this.#jar.set(origin, (jar = new Map()));
    return jar;
  }

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Page> {
    const target = new URL(url);
    const jar = this.cookies(this.#jarOrigin(target));
    const headers: Record<string, string> = { ...init.headers };
    if (jar.size > 0) headers['cookie'] = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await undiciFetch(target, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual', dispatcher: this.#agent });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const name = pair!.slice(0, pair!.indexOf('=')).trim();
      const value = pair!.slice(pair!.indexOf('=') + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!) < new Date()) || attributes.some((a) => /^\s*max-age=0/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = res.headers.get('location');
    return { status: res.status, url: target.href, location: location ? new URL(location, url).href : null, body: await res.text(), headers: res.headers as unknown as Headers };
  }

  /** Follows redirects from `url` until a page that is not one; every hop shares the jar. */
  async follow(url: string, init: Parameters<Browser['request']>[1] = {}, maxHops = 15): Promise<Page> {
    let page = await this.request(url, init);
    for (let hops = 0; page.location && page.status >= 300 && page.status < 400; hops++) {
      if (hops >= maxHops) throw new Error(`too many redirects from ${url}`);
      page = await this.request(page.location);
    }
    return page;
  }
}

/** The value of a hidden form field in a page. */
export function formField(body: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(body);
  if (!match) throw new Error(`no field ${name} in the page:\n${body}`);
  return match[1]!;
}
