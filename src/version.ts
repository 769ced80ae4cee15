/**
 * The version of this build, from the package.json that ships beside the code: two levels up from
 * `dist/src/` (the build, the Docker image, the systemd install) or one level up from `src/` (tsx).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 3; i++) {
    dir = path.dirname(dir);
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'modelshare' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not here: look one level further up.
    }
  }
  return 'unknown';
}

/** The version of this build, as `modelshare --version`, `/healthz` and the first log line of `serve` show it. */
export const version = readVersion();
