import test from 'ava';
import { backupsToKeep } from '../../src/backup/gfs.ts';

const backups = [
  '2026-01-02T02:00:00Z', // Fri, week 1
  '2026-01-15T02:00:00Z', // Thu, week 3
  '2026-01-31T02:00:00Z', // Sat, week 5: newest of January
  '2026-02-10T02:00:00Z', // Tue, week 7
  '2026-02-27T02:00:00Z', // Fri, week 9: newest of February
  '2026-03-02T02:00:00Z', // Mon, week 10
  '2026-03-03T02:00:00Z', // Tue, week 10
  '2026-03-04T02:00:00Z', // Wed, week 10
  '2026-03-04T14:00:00Z', // Wed, week 10: a second backup that day
  '2026-03-05T02:00:00Z', // Thu, week 10
  '2026-03-09T02:00:00Z', // Mon, week 11: the newest
].map((at) => ({ id: at, createdAt: new Date(at) }));

test('grandfather-father-son keeps exactly the documented set', (t) => {
  const keep = backupsToKeep(backups, { last: 2, daily: 3, weekly: 3, monthly: 3 });
  t.deepEqual([...keep].sort(), [
    '2026-01-31T02:00:00Z', // monthly: January
    '2026-02-27T02:00:00Z', // weekly: week 9, and monthly: February
    '2026-03-04T14:00:00Z', // daily: March 4 (its newest)
    '2026-03-05T02:00:00Z', // last 2, daily: March 5, and weekly: week 10
    '2026-03-09T02:00:00Z', // last 2, daily, weekly: week 11, and monthly: March
  ]);
});

test('keep_last alone keeps the newest; zero daily, weekly and monthly add nothing', (t) => {
  t.deepEqual([...backupsToKeep(backups, { last: 3, daily: 0, weekly: 0, monthly: 0 })].sort(), ['2026-03-04T14:00:00Z', '2026-03-05T02:00:00Z', '2026-03-09T02:00:00Z']);
  t.deepEqual([...backupsToKeep([], { last: 3, daily: 7, weekly: 4, monthly: 12 })], []);
});

test('ISO weeks cross the turn of the year: Dec 29 2025 and Jan 2 2026 are one week', (t) => {
  const list = ['2025-12-29T01:00:00Z', '2026-01-02T01:00:00Z', '2026-01-05T01:00:00Z'].map((at) => ({ id: at, createdAt: new Date(at) }));
  t.deepEqual([...backupsToKeep(list, { last: 0, daily: 0, weekly: 2, monthly: 0 })].sort(), ['2026-01-02T01:00:00Z', '2026-01-05T01:00:00Z']);
});
