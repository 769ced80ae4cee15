/** The version of this server, from its package.json (two levels up from src/backup, three from dist/src/backup). */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

export function serverVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    const file = fileURLToPath(new URL(up, import.meta.url));
    if (fs.existsSync(file)) return String((JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: unknown }).version ?? 'unknown');
  }
  return 'unknown';
}
