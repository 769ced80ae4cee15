/**
 * Loads the configuration: the table's defaults, then the config file, then the environment, with
 * `_file` variants for secrets. Every problem is collected and reported at once, each naming the key
 * and where its value came from, so an operator fixes a broken file in one pass.
 */
import fs from 'node:fs';
import { parseDocument } from 'yaml';
import { options, type Config } from './options.ts';
import { OptionValueError, required, type Option, type OptionTable } from './option-types.ts';

/** The default config file, used when it exists and no other is named. */
export const defaultConfigFile = 'config/modelshare.yaml';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`The configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadOptions {
  /** The file to read; when omitted, `config/modelshare.yaml` is read if it exists. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Environment variables that are not options but are read by the command itself. */
const commandVariables = new Set(['MODELSHARE_CONFIG']);

export function envName(key: string): string {
  return `MODELSHARE_${key.replaceAll('.', '_').toUpperCase()}`;
}

function isOption(entry: Option<unknown> | OptionTable): entry is Option<unknown> {
  return (entry as Option<unknown>).kind === 'option';
}

function readYaml(file: string, problems: string[]): Record<string, unknown> {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8');
  } catch (error) {
    problems.push(`${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return {};
  }
  const doc = parseDocument(source, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const e of doc.errors) problems.push(`${file}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`);
    return {};
  }
  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push(`${file}: expected a mapping of settings at the top level`);
    return {};
  }
  return value as Record<string, unknown>;
}

function readSecretFile(file: string, where: string, problems: string[]): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    problems.push(`${where}: the file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** Loads, validates and returns the configuration, or throws a ConfigError listing every problem. */
export function loadConfig({ file, env = process.env }: LoadOptions = {}): Config {
  const problems: string[] = [];
  const configFile = file ?? (fs.existsSync(defaultConfigFile) ? defaultConfigFile : undefined);
  const fromFile = configFile ? readYaml(configFile, problems) : {};
  const flat: Record<string, unknown> = {};
  const knownEnv = new Set(commandVariables);

  /**
   * Reads one table from `raw` (a section of the file) into `out`. `label` names the source in
   * messages; list items (`useEnv` false) take no environment overrides of their own.
   */
  const walk = (table: OptionTable, raw: Record<string, unknown>, prefix: string, out: Record<string, unknown>, label: string, useEnv: boolean) => {
    for (const name of Object.keys(raw)) {
      if (table[name]) continue;
      const secretOf = name.endsWith('_file') ? table[name.slice(0, -5)] : undefined;
      if (secretOf && isOption(secretOf) && secretOf.secret) continue;
      problems.push(`${label}: ${prefix}${name}: unknown setting`);
    }
    for (const [name, entry] of Object.entries(table)) {
      const key = prefix + name;
      if (!isOption(entry)) {
        const section = raw[name] ?? {};
        const valid = typeof section === 'object' && !Array.isArray(section);
        if (!valid) problems.push(`${label}: ${key}: expected a section (a mapping of settings)`);
        out[name] = {};
        walk(entry, valid ? (section as Record<string, unknown>) : {}, `${key}.`, out[name] as Record<string, unknown>, label, useEnv);
        continue;
      }
      const variable = envName(key);
      // Precedence: the environment over the file; within one source a value and its _file variant conflict.
      const fromEnv: { where: string; raw: unknown; fromText: boolean }[] = [];
      if (useEnv) {
        knownEnv.add(variable);
        if (entry.secret) knownEnv.add(`${variable}_FILE`);
        if (env[variable] !== undefined) fromEnv.push({ where: `environment variable ${variable}`, raw: env[variable], fromText: true });
        if (entry.secret && env[`${variable}_FILE`] !== undefined) {
          const where = `environment variable ${variable}_FILE`;
          const content = readSecretFile(String(env[`${variable}_FILE`]), where, problems);
          if (content !== undefined) fromEnv.push({ where, raw: content, fromText: true });
        }
      }
      const fromFile: typeof fromEnv = [];
      if (raw[name] !== undefined) fromFile.push({ where: `${label}: ${key}`, raw: raw[name], fromText: false });
      if (entry.secret && raw[`${name}_file`] !== undefined) {
        const where = `${label}: ${key}_file`;
        const target = raw[`${name}_file`];
        if (typeof target !== 'string') problems.push(`${where}: expected the path of a file`);
        else {
          const content = readSecretFile(target, where, problems);
          if (content !== undefined) fromFile.push({ where, raw: content, fromText: true });
        }
      }
      const candidates = fromEnv.length > 0 ? fromEnv : fromFile;
      if (candidates.length > 1) {
        problems.push(`${key}: set both by ${candidates.map((c) => c.where).join(' and ')}; set only one`);
        continue;
      }
      const chosen = candidates[0];
      if (!chosen && entry.default === required) {
        problems.push(`${label}: ${key}: required, but not set`);
        continue;
      }
      try {
        let value = chosen
          ? entry.parse(chosen.raw, chosen.fromText)
          : typeof entry.default === 'function'
            ? (entry.default as (p: Record<string, unknown>) => unknown)(flat)
            : entry.default;
        if (entry.items && Array.isArray(value)) {
          const itemLabel = chosen && !chosen.where.startsWith(`${label}: `) ? chosen.where : label;
          value = value.map((item: Record<string, unknown>, i) => {
            const parsed: Record<string, unknown> = {};
            walk(entry.items!, item, `${key}[${i}].`, parsed, itemLabel, false);
            return parsed;
          });
        }
        out[name] = value;
        flat[key] = value;
      } catch (error) {
        if (!(error instanceof OptionValueError)) throw error;
        const where = chosen!.where.startsWith(`${label}: `) ? chosen!.where : `${chosen!.where} (${key})`;
        problems.push(`${where}: ${error.message}`);
      }
    }
  };

  const config: Record<string, unknown> = {};
  walk(options, fromFile, '', config, String(configFile), true);
  for (const variable of Object.keys(env)) {
    if (variable.startsWith('MODELSHARE_') && !knownEnv.has(variable)) {
      problems.push(`environment variable ${variable}: unknown setting`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config as unknown as Config;
}

/** The configuration as `key = value` lines with every secret replaced, for `config check` and logs. */
export function dumpConfig(config: Config): string[] {
  const lines: string[] = [];
  const walk = (table: OptionTable, values: Record<string, unknown>, prefix: string) => {
    for (const [name, entry] of Object.entries(table)) {
      if (!isOption(entry)) {
        walk(entry, values[name] as Record<string, unknown>, `${prefix}${name}.`);
        continue;
      }
      const value = values[name];
      if (entry.items && Array.isArray(value)) {
        value.forEach((item: Record<string, unknown>, i) => walk(entry.items!, item, `${prefix}${name}[${i}].`));
        if (value.length === 0) lines.push(`${prefix}${name} = []`);
        continue;
      }
      const shown = entry.secret ? (value === undefined ? '(not set)' : '(set, hidden)') : JSON.stringify(value);
      lines.push(`${prefix}${name} = ${shown}`);
    }
  };
  walk(options, config as unknown as Record<string, unknown>, '');
  return lines;
}
