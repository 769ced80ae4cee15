/** Server admins see the jobs and backups as `modelshare jobs` and `backup list` do, and run a job now. */
import test from 'ava';
import { startServer } from '../helpers/server.ts';
import { tmpDir } from '../helpers/tmp.ts';

test('jobs and backups for server admins: list, run now, the backup shows; others are refused', async (t) => {
  const server = await startServer(t, { MODELSHARE_BACKUP_DIR: tmpDir(t) });
  const admin = server.services.identity.breakGlass('it@firm.example').token;
  const call = async (method: string, path: string, token: string) => {
    const res = await server.fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const jobs = await call('GET', '/api/v1/admin/jobs', admin);
  t.is(jobs.status, 200);
  const names = (jobs.body['jobs'] as { name: string; schedule: string; next_run: string | null }[]).map((j) => j.name);
  for (const name of ['backup', 'backup-verify', 'retention', 'audit-head']) t.true(names.includes(name), name);

  t.like((await call('GET', '/api/v1/admin/backups', admin)).body, { configured: true, backups: [] });
  const ran = await call('POST', '/api/v1/admin/jobs/backup/run', admin);
  t.is(ran.status, 200, JSON.stringify(ran.body));
  t.is(ran.body['outcome'], 'ok');
  const backups = (await call('GET', '/api/v1/admin/backups', admin)).body['backups'] as { id: string }[];
  t.is(backups.length, 1);
  const after = (await call('GET', '/api/v1/admin/jobs?runs=1', admin)).body['jobs'] as { name: string; last_runs: { outcome: string; trigger: string }[] }[];
  t.like(after.find((j) => j.name === 'backup')!.last_runs, [{ outcome: 'ok', trigger: 'command' }]);
  t.is((await call('POST', '/api/v1/admin/jobs/no-such-job/run', admin)).status, 404);
  t.true(server.services.audit.recent(new Date(0)).some((e) => e.action === 'server.job_run' && e.outcome === 'allowed'));
});
