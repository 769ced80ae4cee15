/** The table of subcommands, with the one-line summary `modelshare --help` shows for each. */
import { adminTokenCommand } from './admin.ts';
import { auditVerifyCommand } from './audit.ts';
import { backupListCommand, backupPruneCommand, backupRunCommand, backupVerifyCommand, restoreCommand } from './backup.ts';
import { blobsMigrateCommand, blobsVerifyCommand } from './blobs.ts';
import { certsCsrCommand, certsImportCommand, certsShowCommand } from './certs.ts';
import { configCheckCommand } from './config-check.ts';
import { jobsCommand, jobsRunCommand } from './jobs.ts';
import { keysRetireCommand, keysRotateCommand, keysRotateDataCommand, keysStatusCommand } from './keys.ts';
import { migrateCommand } from './migrate.ts';
import { replicationStatusCommand } from './replication.ts';
import { serveCommand } from './serve.ts';

export interface Command {
  summary: string;
  help: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

export const commands: Record<string, Command> = {
  serve: serveCommand,
  migrate: migrateCommand,
  'config check': configCheckCommand,
  'keys status': keysStatusCommand,
  'keys rotate': keysRotateCommand,
  'keys retire': keysRetireCommand,
  'keys rotate-data': keysRotateDataCommand,
  'certs show': certsShowCommand,
  'certs csr': certsCsrCommand,
  'certs import': certsImportCommand,
  'admin token': adminTokenCommand,
  jobs: jobsCommand,
  'jobs run': jobsRunCommand,
  'backup run': backupRunCommand,
  'backup list': backupListCommand,
  'backup verify': backupVerifyCommand,
  'backup prune': backupPruneCommand,
  restore: restoreCommand,
  'replication status': replicationStatusCommand,
  'audit verify': auditVerifyCommand,
  'blobs verify': blobsVerifyCommand,
  'blobs migrate': blobsMigrateCommand,
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'Usage: modelshare <command> [options]    (modelshare --version prints the version)',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --config FILE (default: $MODELSHARE_CONFIG, else config/modelshare.yaml if it exists).',
    'Run `modelshare <command> --help` for its options.',
    '',
  ].join('\n');
}
