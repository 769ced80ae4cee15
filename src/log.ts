/**
 * The server's logger: JSON lines on stdout (journald and Docker collect them), with every field
 * that can carry a secret redacted before it is written.
 */
import pino, { type Logger } from 'pino';

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
  '*.key',
  'headers.authorization',
  'headers.cookie',
];

/** A logger writing to `destination`: a stream (tests), or file descriptor 1 (the default) or 2. */
export function createLogger(level: string, destination: pino.DestinationStream | 1 | 2 = 1): Log {
  return pino(
    {
      level,
      base: { service: 'modelshare' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    typeof destination === 'number' ? pino.destination({ fd: destination, sync: destination === 2 }) : destination,
  );
}
