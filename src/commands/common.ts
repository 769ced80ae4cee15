/** What the subcommands share: the --config option and loading the configuration and logger. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../config/load.ts';
import type { Config } from '../config/options.ts';
import { createLogger, type Log } from '../log.ts';

export const configOption = { config: { type: 'string', short: 'c' } } as const satisfies ParseArgsConfig['options'];

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, allowPositionals = false) {
  return parseArgs({ args, options: { ...configOption, ...options }, allowPositionals, strict: true });
}

export function configFile(values: { config?: string | boolean | undefined }): string | undefined {
  return typeof values.config === 'string' ? values.config : process.env['MODELSHARE_CONFIG'];
}

/**
 * Loads the configuration and makes the logger. `serve` logs to standard output (where journald and
 * Docker collect it); every other command logs to standard error, so its output can be piped.
 */
export function setup(values: { config?: string | boolean | undefined }, logTo: 'stdout' | 'stderr' = 'stderr'): { config: Config; log: Log } {
  const config = loadConfig({ file: configFile(values) });
  return { config, log: createLogger(config.log.level, logTo === 'stdout' ? 1 : 2, config.log.format) };
}
