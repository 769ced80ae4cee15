/**
 * `modelshare keys status | rotate | retire | rotate-data`. Rotation with the key file takes two steps, so that the
 * new master key wraps nothing until the operator has a copy of it (see crypto/master-keys.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DataMissingError, openReadOnlyStores, openStores } from '../boot.ts';
import { rotatablePurposes, type RotatablePurpose } from '../crypto/keyring.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

/** Opens an existing data directory for a command that changes keys: nothing is made where nothing was. */
function withKeys<T>(values: { config?: string | boolean | undefined }, work: (stores: ReturnType<typeof openStores>) => T): T {
  const { config, log } = setup(values);
  if (!fs.existsSync(config.database.path)) {
    throw new DataMissingError(`there is no database at ${path.resolve(config.database.path)}: is data_dir (${path.resolve(config.data_dir)}) right? Nothing was created.`);
  }
  const stores = openStores(config, log);
  try {
    return work(stores);
  } finally {
    stores.close();
  }
}

export const keysStatusCommand: Command = {
  summary: 'show the master keys and how many data keys each one wraps',
  help:
    'Usage: modelshare keys status [--config FILE]\n\n' +
    'Lists the master keys (the primary one wraps new data keys; a pending one waits for `keys rotate\n' +
    '--activate`) and the number of data keys each wraps. Opens the data directory read-only and creates\n' +
    'nothing; exits 1 when the database or the key file is missing, or a data key\'s master key is.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config } = setup(values);
    const stores = openReadOnlyStores(config);
    try {
      const status = stores.keys.status();
      process.stdout.write(`master keys from ${status.source}:\n`);
      for (const k of status.masterKeys) {
        const note = k.primary ? '  (primary: wraps new keys)' : k.pending ? '  (pending: back the key file up, then `keys rotate --activate`)' : '';
        process.stdout.write(`  ${k.id}  wraps ${k.wraps} data key(s)${note}\n`);
      }
      for (const o of status.orphaned) process.stdout.write(`  ${o.wrapping_key_id}  MISSING: ${o.count} data key(s) cannot be opened\n`);
      return status.orphaned.length > 0 ? 1 : 0;
    } finally {
      stores.close();
    }
  },
};

export const keysRotateCommand: Command = {
  summary: 'add a new master key (pending until backed up); --activate re-wraps every data key with it',
  help:
    'Usage: modelshare keys rotate [--activate] [--config FILE]\n\n' +
    'With the key file, in two steps:\n' +
    '  1. `keys rotate` adds a new master key to the file, marked pending: it wraps nothing yet.\n' +
    '     Back the key file up now (the copy must hold the new key).\n' +
    '  2. `keys rotate --activate` makes the pending key the primary one and re-wraps every data key\n' +
    '     under it while the server keeps serving. The old key stays in the file until `keys retire`.\n' +
    'A lock file beside the key file keeps two rotations from running at once.\n' +
    'With keys.master_key: add the new key as the last line, restart the server, then run this command\n' +
    'to re-wrap; remove the old key from the configuration once `keys status` shows it wraps nothing.\n',
  async run(args) {
    const { values } = parse(args, { activate: { type: 'boolean' } });
    return withKeys(values, ({ keys, masterKeys }) => {
      if (!masterKeys.managed) {
        const rewrapped = keys.rewrapAll();
        process.stdout.write(`re-wrapped ${rewrapped} data key(s) under the last key of keys.master_key\n`);
      } else if (values.activate) {
        const { newKeyId, rewrapped } = keys.activateRotation();
        process.stdout.write(`master key ${newKeyId} is now the primary one; re-wrapped ${rewrapped} data key(s). Run \`modelshare keys retire\` to remove the old key.\n`);
      } else {
        const { newKeyId } = keys.beginRotation();
        process.stdout.write(
          `new master key ${newKeyId} added to ${masterKeys.description}, pending: it wraps nothing yet.\n` +
            `BACK UP ${masterKeys.description} NOW (the copy must hold the new key), then run \`modelshare keys rotate --activate\`.\n`,
        );
      }
      return 0;
    });
  },
};

export const keysRetireCommand: Command = {
  summary: 'remove old master keys that no data key is wrapped by any more',
  help: 'Usage: modelshare keys retire [--config FILE]\n\nRe-wraps what is left, then removes from the key file each older master key that wraps nothing.\n',
  async run(args) {
    const { values } = parse(args, {});
    return withKeys(values, ({ keys }) => {
      keys.rewrapAll();
      const retired = keys.retireUnused();
      process.stdout.write(retired.length > 0 ? `retired ${retired.join(', ')}\n` : 'no master key to retire\n');
      return 0;
    });
  },
};

export const keysRotateDataCommand: Command = {
  summary: 'give the audit log or the TLS keys a fresh data key (older values keep opening)',
  help:
    'Usage: modelshare keys rotate-data audit|tls [--config FILE]\n\n' +
    'Makes a fresh data key the one that seals new audit entries (audit) or new TLS private keys (tls);\n' +
    'what was sealed before names its own key and keeps opening. The server picks the new key up at once.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const purpose = positionals[0];
    if (positionals.length !== 1 || !(rotatablePurposes as readonly string[]).includes(purpose!)) {
      process.stderr.write(`name the data key to rotate: ${rotatablePurposes.join(' or ')}\n`);
      return 2;
    }
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    try {
      process.stdout.write(`new ${purpose} data key ${stores.keys.rotatePurpose(purpose as RotatablePurpose)}\n`);
      return 0;
    } finally {
      stores.close();
    }
  },
};
