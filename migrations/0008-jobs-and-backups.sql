-- Scheduled jobs: a lease per job (or group of jobs that must not run together), so a job never
-- overlaps itself, also not when `modelshare jobs run` starts it from the command line while the
-- server runs; and the record of every run, kept for jobs.runs_kept.
CREATE TABLE job_leases (
  name TEXT PRIMARY KEY,             -- the job's lease name (its own name, or a shared group)
  holder TEXT NOT NULL,              -- host/pid/random of the process that holds it
  job TEXT NOT NULL,                 -- the job that holds it
  acquired_at TEXT NOT NULL,
  expires_ms INTEGER NOT NULL        -- wall-clock ms; renewed while the job runs
) STRICT;

CREATE TABLE job_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job TEXT NOT NULL,
  trigger TEXT NOT NULL CHECK (trigger IN ('schedule', 'command')),
  holder TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped', 'interrupted')),
  summary TEXT,                      -- what it did, in a line
  figures TEXT,                      -- JSON counts and sizes
  error TEXT                         -- the error message of a failed run (never a secret)
) STRICT;
CREATE INDEX job_runs_by_job ON job_runs (job, id);
CREATE INDEX job_runs_by_start ON job_runs (started_at);
