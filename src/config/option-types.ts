/**
 * The kinds of value an option can hold. Each kind parses a raw value (from YAML, or a string from
 * the environment or a secret file) into its typed form, or says in plain words what it expected.
 */

/** One option of the table: how to parse it, its default, and what the operator reads about it. */
export interface Option<T> {
  readonly kind: 'option';
  readonly doc: string;
  /** A secret never appears in a dump or a log, and can be read from a file with the `_file` key. */
  readonly secret: boolean;
  /** A fixed default, or one derived from options parsed earlier (e.g. paths under `data_dir`). */
  readonly default: T | ((partial: Record<string, unknown>) => T);
  /** Parses a YAML value or, when `fromText` is set, an environment variable or file content. */
  parse(raw: unknown, fromText: boolean): T;
  /** For a list of sections (such as OIDC providers): the table each item follows. */
  readonly items?: OptionTable;
}

/** A section of the table: options and nested sections. */
export type OptionTable = { readonly [key: string]: Option<unknown> | OptionTable };

/** The typed configuration that a table describes. */
export type ConfigOf<T> = {
  readonly [K in keyof T]: T[K] extends Option<infer V> ? V : T[K] extends OptionTable ? ConfigOf<T[K]> : never;
};

/** The default of an option that has none: the loader reports it as missing. */
export const required = Symbol('required');

/** A value the operator must fix; `message` says what was expected, without the key (added later). */
export class OptionValueError extends Error {}

function option<T>(
  doc: string,
  defaultValue: Option<T>['default'],
  parse: Option<T>['parse'],
  secret = false,
): Option<T> {
  return { kind: 'option', doc, secret, default: defaultValue, parse };
}

function describe(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
  if (raw === null) return 'null';
  return Array.isArray(raw) ? 'a list' : typeof raw === 'object' ? 'a mapping' : String(raw);
}

export function text(doc: string, defaultValue: Option<string>['default'] | typeof required, opts: { pattern?: RegExp } = {}): Option<string> {
  return option(doc, defaultValue as Option<string>['default'], (raw) => {
    if (typeof raw !== 'string') throw new OptionValueError(`expected a string, got ${describe(raw)}`);
    if (opts.pattern && !opts.pattern.test(raw)) throw new OptionValueError(`${describe(raw)} does not have the expected form`);
    return raw;
  });
}

/** A secret string, optional unless the application requires it. Never printed. */
export function secret(doc: string): Option<string | undefined> {
  return option(doc, undefined, (raw) => {
    if (typeof raw !== 'string' || raw.trim() === '') throw new OptionValueError('expected a non-empty string');
    return raw.trim();
  }, true);
}

export function integer(doc: string, defaultValue: number, min: number, max: number): Option<number> {
  return option(doc, defaultValue, (raw, fromText) => {
    const value = fromText && typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new OptionValueError(`expected an integer from ${min} to ${max}, got ${describe(raw)}`);
    }
    return value;
  });
}

export function boolean(doc: string, defaultValue: boolean): Option<boolean> {
  return option(doc, defaultValue, (raw, fromText) => {
    if (typeof raw === 'boolean') return raw;
    if (fromText && typeof raw === 'string' && /^(true|false)$/i.test(raw.trim())) return raw.trim().toLowerCase() === 'true';
    throw new OptionValueError(`expected true or false, got ${describe(raw)}`);
  });
}

export function oneOf<const V extends string>(doc: string, defaultValue: V, values: readonly V[]): Option<V> {
  return option(doc, defaultValue, (raw) => {
    if (typeof raw !== 'string' || !values.includes(raw as V)) {
      throw new OptionValueError(`expected one of ${values.join(', ')}, got ${describe(raw)}`);
    }
    return raw as V;
  });
}

/**
 * An http or https URL. Trailing slashes are dropped (a base such as public_url) unless `exact`: an
 * OpenID issuer is compared character for character with the provider's own, slash included
 * (Authentik and Entra ID v1 issuers end in one).
 */
export function url(doc: string, defaultValue: string | typeof required, options: { exact?: boolean } = {}): Option<string> {
  return option(doc, defaultValue as string, (raw) => {
    if (typeof raw !== 'string' || !URL.canParse(raw) || !/^https?:$/.test(new URL(raw).protocol)) {
      throw new OptionValueError(`expected an http or https URL, got ${describe(raw)}`);
    }
    return options.exact ? raw : raw.replace(/\/+$/, '');
  });
}

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A cron expression (minute hour day-of-month month day-of-week, with an optional leading seconds
 * field), or `off`. Only its shape is checked here; the scheduler checks each field at start.
 */
export function cron(doc: string, defaultValue: string): Option<string> {
  return option(doc, defaultValue, (raw) => {
    if (typeof raw !== 'string') throw new OptionValueError(`expected a cron expression such as "17 3 * * *", or off, got ${describe(raw)}`);
    const value = raw.trim().replace(/\s+/g, ' ');
    if (value === 'off') return value;
    const fields = value.split(' ');
    if (fields.length < 5 || fields.length > 6 || !fields.every((f) => /^[0-9A-Za-z*,/?-]+$/.test(f))) {
      throw new OptionValueError(`expected a cron expression of 5 fields (minute hour day month weekday) such as "17 3 * * *", or off, got ${describe(raw)}`);
    }
    return value;
  });
}

/** An IANA time zone such as Europe/Zurich; empty means the server's own. */
export function timeZone(doc: string): Option<string> {
  return option(doc, '', (raw) => {
    if (typeof raw !== 'string') throw new OptionValueError(`expected a time zone such as Europe/Zurich, got ${describe(raw)}`);
    if (raw === '') return raw;
    try {
      new Intl.DateTimeFormat('en', { timeZone: raw });
    } catch {
      throw new OptionValueError(`${describe(raw)} is not a known time zone (expected one such as Europe/Zurich or UTC)`);
    }
    return raw;
  });
}

/** A duration such as `30s`, `15m`, `12h` or `90d`, held in milliseconds. */
export function duration(doc: string, defaultValue: string, min = '0ms'): Option<number> {
  const parse = (raw: unknown): number => {
    const match = typeof raw === 'string' ? /^(\d+)(ms|s|m|h|d)$/.exec(raw.trim()) : null;
    if (!match) throw new OptionValueError(`expected a duration such as 30s, 15m, 12h or 90d, got ${describe(raw)}`);
    return Number(match[1]) * durationUnits[match[2]!]!;
  };
  const floor = parse(min);
  return option(doc, parse(defaultValue), (raw) => {
    const value = parse(raw);
    if (value < floor) throw new OptionValueError(`expected at least ${min}, got ${describe(raw)}`);
    return value;
  });
}

const sizeUnits: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

/** A size in bytes, written as a number of bytes or with a binary unit (`256MiB`, `20GiB`). */
export function size(doc: string, defaultValue: string): Option<number> {
  const parse = (raw: unknown): number => {
    if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) return raw; // as the string "0" is
    const match = typeof raw === 'string' ? /^(\d+)\s*(B|KiB|MiB|GiB|TiB)?$/.exec(raw.trim()) : null;
    if (!match) throw new OptionValueError(`expected a size such as 1048576, 512KiB, 256MiB or 20GiB, got ${describe(raw)}`);
    return Number(match[1]) * sizeUnits[match[2] ?? 'B']!;
  };
  return option(doc, parse(defaultValue), parse);
}

/** A list of strings; from the environment, separated by commas. */
export function strings(doc: string, defaultValue: string[], opts: { pattern?: RegExp } = {}): Option<string[]> {
  return option(doc, defaultValue, (raw, fromText) => {
    const list = fromText && typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : raw;
    if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
      throw new OptionValueError(`expected a list of strings, got ${describe(raw)}`);
    }
    const bad = opts.pattern ? list.find((s) => !opts.pattern!.test(s)) : undefined;
    if (bad !== undefined) throw new OptionValueError(`${describe(bad)} does not have the expected form`);
    return list;
  });
}

/**
 * A list of sections that each follow `items` (unknown keys, types and `_file` secrets are checked per
 * item by the loader). From the environment, the whole list is given as JSON.
 */
export function list<const I extends OptionTable>(doc: string, items: I, defaultValue: ConfigOf<I>[] = []): Option<ConfigOf<I>[]> {
  return {
    kind: 'option',
    doc,
    secret: false,
    default: defaultValue,
    items,
    parse(raw, fromText) {
      let value = raw;
      if (fromText && typeof raw === 'string') {
        try {
          value = JSON.parse(raw);
        } catch {
          throw new OptionValueError('expected a JSON list');
        }
      }
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v))) {
        throw new OptionValueError(`expected a list of sections, got ${describe(raw)}`);
      }
      return value as ConfigOf<I>[];
    },
  };
}
