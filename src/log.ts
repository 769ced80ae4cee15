/**
 * The server's logger: JSON lines on stdout (journald and Docker collect them), or readable lines
 * through pino-pretty when a person watches a terminal, with every field that can carry a secret
 * redacted before it is written (redaction happens in pino, before either format).
 */
import { createRequire } from 'node:module';
import pino, { type Logger } from 'pino';
import type Pretty from 'pino-pretty';

// pino-pretty is loaded only for readable lines: a server logging JSON never loads it (about 8 MiB
// of resident memory at rest).
const require = createRequire(import.meta.url);

export type Log = Logger;

/** Paths pino blanks out wherever they appear in a log object. */
export const redactedPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.secret',
  '*.client_secret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.device_code',
  '*.code',
  '*.master_key',
  '*.access_key_id',
  '*.secret_access_key',
  '*.key',
  '*.access_key_id',
  '*.secret_access_key',
  '*.accessKeyId',
  '*.secretAccessKey',
  '*.credentials',
  'storage.s3.access_key_id',
  'storage.s3.secret_access_key',
  '*.storage.s3.access_key_id',
  '*.storage.s3.secret_access_key',
  'headers.authorization',
  'headers.cookie',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/** `auto` is pretty on a terminal (the file descriptor is a TTY) and JSON otherwise. */
export function resolveFormat(format: LogFormat, fd: 1 | 2): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return (fd === 1 ? process.stdout : process.stderr).isTTY ? 'pretty' : 'json';
}

/**
 * A logger writing to `destination`: a stream (tests), or file descriptor 1 (the default) or 2,
 * as JSON lines or, with `format` pretty (or auto on a terminal), readable lines.
 */
export function createLogger(level: string, destination: pino.DestinationStream | 1 | 2 = 1, format: LogFormat = 'json'): Log {
  const readable = typeof destination === 'number' && resolveFormat(format, destination) === 'pretty';
  return pino(
    {
      level,
      base: { service: 'modelshare' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    typeof destination !== 'number'
      ? destination
      : readable
        ? // In-process and synchronous, so a short command's last line is never lost at exit.
          (require('pino-pretty') as typeof Pretty)({ destination, sync: true, colorize: (destination === 1 ? process.stdout : process.stderr).isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })
        : pino.destination({ fd: destination, sync: destination === 2 }),
  );
}
