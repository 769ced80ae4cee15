/**
 * npm runs a dependency's install script only when package.json's `allowScripts` approves it (npm 12;
 * npm 11 warns). Every dependency in the lockfile that has one must be approved or denied there, or
 * better-sqlite3 would install without its compiled addon.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { projectRoot } from '../helpers/spawn.ts';

test('every dependency with an install script is covered by allowScripts in package.json', (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean | string> };
  const lock = JSON.parse(fs.readFileSync(path.join(projectRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
  const withScripts = Object.entries(lock.packages)
    .filter(([, entry]) => entry.hasInstallScript)
    .map(([where]) => where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));
  t.true(withScripts.includes('better-sqlite3'));
  const uncovered = [...new Set(withScripts)].filter((name) => pkg.allowScripts?.[name] === undefined);
  t.deepEqual(uncovered, []);
  t.is(pkg.allowScripts?.['better-sqlite3'], true, 'better-sqlite3 needs its install script: it builds or fetches the SQLite addon');
});
