/**
 * Runs the status sources and sums them up: the page is `down` when any part is down, `degraded`
 * when any is degraded, else `up`. A source that throws or does not answer in time is `down`, with a
 * fixed reason (the error itself goes to the log, never to the public page).
 */
import type { Log } from '../log.ts';
import type { StatusCheck, StatusSource, StatusState } from './sources.ts';

export interface StatusReport {
  status: StatusState;
  version: string;
  checked_at: string;
  checks: (StatusCheck & { name: string })[];
}

const rank: Record<StatusState, number> = { up: 0, degraded: 1, down: 2 };

export async function checkStatus(sources: readonly StatusSource[], options: { version: string; now: () => Date; log: Log; timeoutMs?: number }): Promise<StatusReport> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const checks = await Promise.all(
    sources.map(async (source) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<StatusCheck>((resolve) => {
        timer = setTimeout(() => resolve({ state: 'down', reason: 'the check did not answer in time' }), timeoutMs);
      });
      try {
        const result = await Promise.race([Promise.resolve().then(() => source.check()), late]);
        return { name: source.name, state: result.state, reason: result.reason, ...(result.details ? { details: result.details } : {}) };
      } catch (error) {
        options.log.warn({ check: source.name, err: error }, 'status check failed');
        return { name: source.name, state: 'down' as const, reason: 'the check failed' };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const status = checks.reduce<StatusState>((worst, c) => (rank[c.state] > rank[worst] ? c.state : worst), 'up');
  return { status, version: options.version, checked_at: options.now().toISOString(), checks };
}
