/**
 * Grandfather-father-son retention of backups, as restic's `forget --keep-*` does it. Kept are:
 * the `last` newest backups; and for each of the `daily` latest days that have a backup, the newest
 * backup of that day; the same for the `weekly` latest ISO weeks and the `monthly` latest months.
 * Dates are taken in UTC. Everything else may go. A pure function, so the rule is tested on dates.
 */

export interface GfsPolicy {
  last: number;
  daily: number;
  weekly: number;
  monthly: number;
}

/** The ISO 8601 week of a date (UTC), as "2026-W05". */
function isoWeek(date: Date): string {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of this week decides the year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const buckets = {
  daily: (d: Date) => d.toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (d: Date) => d.toISOString().slice(0, 7),
};

/** The ids of the backups to keep. */
export function backupsToKeep(backups: readonly { id: string; createdAt: Date }[], policy: GfsPolicy): Set<string> {
  const newestFirst = [...backups].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1));
  const keep = new Set(newestFirst.slice(0, policy.last).map((b) => b.id));
  for (const kind of ['daily', 'weekly', 'monthly'] as const) {
    const seen = new Set<string>();
    for (const backup of newestFirst) {
      if (seen.size >= policy[kind]) break;
      const bucket = buckets[kind](backup.createdAt);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      keep.add(backup.id);
    }
  }
  return keep;
}
