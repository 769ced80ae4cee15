import { dumpConfig, loadConfig } from '../config/load.ts';
import { assertServable } from '../config/validate.ts';
import type { Command } from './index.ts';
import { configFile, parse } from './common.ts';

export const configCheckCommand: Command = {
  summary: 'validate the configuration without starting, and print it with secrets hidden',
  help:
    'Usage: modelshare config check [FILE] [--config FILE]\n\n' +
    'Reads the configuration as `serve` would (file, environment, *_file secrets) and makes the same checks\n' +
    'across settings (an https issuer, no demo next to a real provider or in production, a provider in\n' +
    'production); reports every problem with the key and where it was set, and exits 1 if there is one.\n' +
    'Otherwise prints every setting.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const file = positionals[0] ?? configFile(values);
    const config = loadConfig({ file });
    // Exactly the checks `serve` makes before it opens anything.
    assertServable(config);
    process.stdout.write(`${file ?? '(no config file: defaults and environment)'}: the configuration is valid\n`);
    process.stdout.write(`${dumpConfig(config).join('\n')}\n`);
    return 0;
  },
};
