#!/usr/bin/env node
/**
 * The `modelshare` command: picks the subcommand and runs it. Each subcommand lives in commands/ and
 * is a thin layer over the domains.
 */
import { commands, usage } from './commands/index.ts';
import { ConfigError } from './config/load.ts';
import { version } from './version.ts';

async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  if (first === '--version' || first === '-V' || first === 'version') {
    process.stdout.write(`modelshare ${version}\n`);
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage());
    return first === undefined ? 2 : 0;
  }
  const twoWord = second !== undefined ? commands[`${first} ${second}`] : undefined;
  const command = twoWord ?? commands[first];
  const args = twoWord ? rest : [second, ...rest].filter((a): a is string => a !== undefined);
  if (!command) {
    process.stderr.write(`modelshare: unknown command "${[first, second].filter(Boolean).join(' ')}"\n\n${usage()}`);
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.help);
    return 0;
  }
  return command.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`modelshare: ${error.message}\n`);
    else process.stderr.write(`modelshare: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
