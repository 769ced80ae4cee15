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

export function createLogger(level: string, destination?: pino.DestinationStream): Log {
  return pino(
    {
      level,
      base: { service: 'modelshare' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactedPaths, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
