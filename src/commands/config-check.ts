import { dumpConfig, loadConfig } from '../config/load.ts';
import type { Command } from './index.ts';
import { configFile, parse } from './common.ts';

export const configCheckCommand: Command = {
  summary: 'validate the configuration without starting, and print it with secrets hidden',
  help:
    'Usage: modelshare config check [FILE] [--config FILE]\n\n' +
    'Reads the configuration as `serve` would (file, environment, *_file secrets), reports every problem\n' +
    'with the key and where it was set, and exits 1 if there is one. Otherwise prints every setting.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const file = positionals[0] ?? configFile(values);
    const config = loadConfig({ file });
    process.stdout.write(`${file ?? '(no config file: defaults and environment)'}: the configuration is valid\n`);
    process.stdout.write(`${dumpConfig(config).join('\n')}\n`);
    return 0;
  },
};
