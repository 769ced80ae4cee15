/**
 * Replication on the status page and in /readyz: the lag and the recovery point are public facts
 * (times and seconds); the target's address is not shown.
 */
import type { ReadinessCheck } from '../http/health.ts';
import type { StatusSource } from '../status/sources.ts';
import type { ReplicationService } from './replication-service.ts';

export function replicationSource(replication: ReplicationService): StatusSource {
  return {
    name: 'replication',
    check() {
      const s = replication.status();
      const details = { lag_seconds: s.lag_seconds, max_lag_seconds: s.max_lag_seconds, recovery_point: s.recovery_point, running: s.running, restarts: s.restarts };
      const lag = `${s.lag_seconds.toFixed(1)} s behind`;
      if (s.state === 'lagging') {
        return { state: 'degraded', reason: `the replica is ${lag}, over the limit of ${s.max_lag_seconds} s${s.running ? '' : '; Litestream is restarting'}`, details };
      }
      return { state: 'up', reason: s.lag_seconds === 0 ? 'the replica holds every commit' : `the replica is ${lag}`, details };
    },
  };
}

/** Lag over replication.max_lag keeps serving, but degraded: a takeover now would lose more than the limit. */
export function replicationCheck(replication: ReplicationService): ReadinessCheck {
  return {
    name: 'replication',
    run: async () => {
      const s = replication.status();
      const details = { lag_seconds: s.lag_seconds, max_lag_seconds: s.max_lag_seconds, running: s.running };
      return s.state === 'lagging' ? { state: 'lagging', degraded: true, details } : { state: 'ok', details };
    },
  };
}
