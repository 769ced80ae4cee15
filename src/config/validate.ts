/**
 * The checks across settings that decide whether a configuration can serve: one function that both
 * `modelshare serve` and `modelshare config check` run, so the check never accepts what serve refuses.
 * (Each setting on its own is checked while loading; see load.ts.)
 */
import { ConfigError } from './load.ts';
import type { Config } from './options.ts';

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
  if (config.production && config.auth.providers.length === 0) {
    problems.push(
      'production is true, but auth.providers is empty: nobody could sign in. Configure your OpenID Connect provider ' +
        '(`modelshare admin token` works without one, for setting up).',
    );
  }
  return problems;
}

/** Throws a ConfigError listing every problem when this configuration cannot serve. */
export function assertServable(config: Config): void {
  const problems = servingProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
}
