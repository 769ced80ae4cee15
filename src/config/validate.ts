/**
 * The checks across settings that decide whether a configuration can serve: one function that both
 * `modelshare serve` and `modelshare config check` run, so the check never accepts what serve refuses.
 * (Each setting on its own is checked while loading; see load.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from './load.ts';
import type { Config } from './options.ts';
import { s3SettingProblems } from '../blobs/s3-settings.ts';

/** Why the demo may not run under this config with `demo.enabled: on`, or undefined when it may. */
export function demoRefusal(config: Config): string | undefined {
  if (config.demo.enabled !== 'on') return undefined;
  if (config.production) return 'demo.enabled is on, but production is true: the demo sign-in refuses to run there. Set demo.enabled to off (or auto).';
  if (config.auth.providers.length > 0) {
    return 'demo.enabled is on, but auth.providers configures a real provider: the demo sign-in refuses to run there. Set demo.enabled to off (or auto).';
  }
  return undefined;
}

/** Every reason this configuration cannot serve; empty when it can. */
export function servingProblems(config: Config): string[] {
  const problems: string[] = [];
  const demo = demoRefusal(config);
  if (demo) problems.push(demo);
  config.auth.providers.forEach((provider, i) => {
    if (new URL(provider.issuer).protocol !== 'https:') {
      problems.push(`auth.providers[${i}].issuer: must be an https URL (sign-in answers travel through it), got ${provider.issuer}`);
    }
  });
  problems.push(...replicationProblems(config));
  if (config.storage.backend === 's3') problems.push(...s3SettingProblems(config.storage.s3));
  if (config.production && config.auth.providers.length === 0) {
    problems.push(
      'production is true, but auth.providers is empty: nobody could sign in. Configure your OpenID Connect provider ' +
        '(`modelshare admin token` works without one, for setting up).',
    );
  }
  return problems;
}

/** The replication target: exactly one, reachable, and never inside the data directory it protects. */
export function replicationProblems(config: Config): string[] {
  const r = config.replication;
  if (!r.enabled) return [];
  const problems: string[] = [];
  if ((r.path === '') === (r.s3.bucket === '')) {
    problems.push('replication.enabled is true: set exactly one target, replication.path (a second-site mount) or replication.s3.bucket');
  }
  if (r.path !== '') {
    const target = path.resolve(r.path);
    const data = path.resolve(config.data_dir);
    if (target === data || target.startsWith(data + path.sep)) problems.push(`replication.path: ${target} must lie outside data_dir (${data}): a replica on the same disk survives nothing`);
    else if (!fs.existsSync(target) || !fs.statSync(target).isDirectory()) {
      problems.push(`replication.path: ${target} does not exist or is not a directory (is the second-site share mounted?); it is never created, so a missing mount cannot fill the local disk`);
    }
  }
  if (r.s3.endpoint !== '' && (!URL.canParse(r.s3.endpoint) || !/^https?:$/.test(new URL(r.s3.endpoint).protocol))) {
    problems.push(`replication.s3.endpoint: expected an http or https URL, got ${JSON.stringify(r.s3.endpoint)}`);
  }
  if (r.s3.ca_file !== '' && !fs.existsSync(r.s3.ca_file)) problems.push(`replication.s3.ca_file: ${r.s3.ca_file} does not exist`);
  if (r.max_lag <= r.sync_interval) problems.push(`replication.max_lag (${r.max_lag} ms) must be longer than replication.sync_interval (${r.sync_interval} ms)`);
  return problems;
}

/** Throws a ConfigError listing every problem when this configuration cannot serve. */
export function assertServable(config: Config): void {
  const problems = servingProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
}
