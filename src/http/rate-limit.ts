/** Counts attempts per key in a sliding window, in memory (one process serves one site). */
export class AttemptLimiter {
  readonly #attempts = new Map<string, number[]>();

  constructor(readonly max: number, readonly windowMs: number) {}

  /** True while `key` has fewer than `max` attempts in the window. */
  allowed(key: string, now: number): boolean {
    const recent = (this.#attempts.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (recent.length === 0) this.#attempts.delete(key);
    else this.#attempts.set(key, recent);
    return recent.length < this.max;
  }

  record(key: string, now: number): void {
    const list = this.#attempts.get(key) ?? [];
    list.push(now);
    this.#attempts.set(key, list);
  }
}
