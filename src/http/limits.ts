/**
 * Rate limits on what anyone can call without signing in (the sign-in, token and device endpoints)
 * and on failed bearer tokens, per client address and, where there is one, per account. A refusal is
 * `429 too_many_requests` with `Retry-After`; it writes no row, it is counted (see `refusals`).
 * rate-limiter-flexible keeps the counters in memory: one process serves one site.
 */
import { createRequire } from 'node:module';
import type * as Flexible from 'rate-limiter-flexible';

// The in-memory limiter and its result, taken from the package's own files: its index loads every
// store it supports (Redis, Mongo, SQL, etcd, ...), about 8 MiB of resident memory this one never uses.
const require = createRequire(import.meta.url);
const RateLimiterMemory = require('rate-limiter-flexible/lib/RateLimiterMemory.js') as typeof Flexible.RateLimiterMemory;
type RateLimiterMemory = Flexible.RateLimiterMemory;
const RateLimiterRes = require('rate-limiter-flexible/lib/RateLimiterRes.js') as typeof Flexible.RateLimiterRes;
type RateLimiterRes = Flexible.RateLimiterRes;
import { AppError } from '../errors.ts';
import type { RateLimit } from './route-table.ts';

export interface RateLimitSettings {
  /** Requests per minute from one client address to each limited endpoint. */
  perAddress: number;
  /** Failed bearer tokens per minute from one client address before it is turned away. */
  failedTokens: number;
}

export const defaultRateLimits: RateLimitSettings = { perAddress: 60, failedTokens: 20 };

export class RateLimits {
  readonly #byAddress: Record<RateLimit, RateLimiterMemory>;
  readonly #byAccount: Record<RateLimit, RateLimiterMemory>;
  readonly #failedTokens: RateLimiterMemory;
  /** Refusals so far, by limit: for metrics and the status data, never one audit row each. */
  readonly refusals = new Map<string, number>();

  /** Told of every refusal (metrics). */
  onRefusal: ((limit: string) => void) | undefined;

  constructor(settings: RateLimitSettings = defaultRateLimits) {
    const perMinute = (points: number) => new RateLimiterMemory({ points, duration: 60 });
    this.#byAddress = {
      sign_in: perMinute(settings.perAddress),
      token: perMinute(settings.perAddress * 2),
      device_code: perMinute(settings.perAddress),
      user_code: perMinute(settings.perAddress),
    };
    // Per account: a device code is polled every 5 s (12/min); 10 wrong user codes per 15 minutes
    // make guessing one of 20^8 hopeless.
    this.#byAccount = {
      sign_in: perMinute(settings.perAddress),
      token: perMinute(30),
      device_code: perMinute(settings.perAddress),
      user_code: new RateLimiterMemory({ points: 10, duration: 15 * 60 }),
    };
    this.#failedTokens = perMinute(settings.failedTokens);
  }

  /** Takes one request of `limit` from `address` (and `account`), or throws 429. */
  async take(limit: RateLimit, address: string, account?: string): Promise<void> {
    await this.#consume(this.#byAddress[limit], address, limit);
    if (account) await this.#consume(this.#byAccount[limit], account, limit);
  }

  /** Throws 429 while `key` has used up `limit`'s account allowance, without taking from it. */
  async check(limit: RateLimit, key: string): Promise<void> {
    const res = await this.#byAccount[limit].get(key);
    if (res && res.remainingPoints <= 0) this.#refuse(limit, res);
  }

  /** Records one failure against an account allowance (a wrong user code). */
  async fail(limit: RateLimit, key: string): Promise<void> {
    await this.#byAccount[limit].penalty(key, 1);
  }

  /** Throws 429 while `address` has sent too many bad bearer tokens. */
  async checkFailedTokens(address: string): Promise<void> {
    const res = await this.#failedTokens.get(address);
    if (res && res.remainingPoints <= 0) this.#refuse('failed_tokens', res);
  }

  /** Counts one bad bearer token from `address`; true when it is the first of the current window. */
  async failedToken(address: string): Promise<boolean> {
    const res = await this.#failedTokens.penalty(address, 1);
    return res.consumedPoints === 1;
  }

  async #consume(limiter: RateLimiterMemory, key: string, name: string): Promise<void> {
    try {
      await limiter.consume(key, 1);
    } catch (error) {
      if (error instanceof RateLimiterRes) this.#refuse(name, error);
      throw error;
    }
  }

  #refuse(name: string, res: RateLimiterRes): never {
    this.refusals.set(name, (this.refusals.get(name) ?? 0) + 1);
    this.onRefusal?.(name);
    const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
    throw new AppError('too_many_requests', `Too many requests; try again in ${seconds} seconds`, { headers: { 'Retry-After': String(seconds) } });
  }
}
