import { migrate } from '../db/migrate.ts';
import { openDatabase } from '../db/open.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const migrateCommand: Command = {
  summary: 'apply database migrations without serving',
  help: 'Usage: modelshare migrate [--config FILE]\n\nApplies the migrations the database does not have yet, each in its own transaction, and exits.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config } = setup(values);
    const db = openDatabase(config.database.path, { synchronous: config.database.synchronous, busyTimeoutMs: config.database.busy_timeout });
    try {
      const applied = migrate(db);
      process.stdout.write(applied.length > 0 ? `applied: ${applied.join(', ')}\n` : 'the database is up to date\n');
      return 0;
    } finally {
      db.close();
    }
  },
};
