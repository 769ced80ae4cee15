import { openStores } from '../boot.ts';
import { rotatablePurposes, type RotatablePurpose } from '../crypto/keyring.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

function withKeys<T>(args: string[], work: (stores: ReturnType<typeof openStores>) => T): T {
  const { values } = parse(args, {});
  const { config, log } = setup(values);
  const stores = openStores(config, log);
  try {
    return work(stores);
  } finally {
    stores.close();
  }
}

export const keysStatusCommand: Command = {
  summary: 'show the master keys and how many data keys each one wraps',
  help: 'Usage: modelshare keys status [--config FILE]\n\nLists the master keys (the last one wraps new data keys) and the number of data keys each wraps.\n',
  async run(args) {
    return withKeys(args, ({ keys }) => {
      const status = keys.status();
      process.stdout.write(`master keys from ${status.source}:\n`);
      for (const k of status.masterKeys) process.stdout.write(`  ${k.id}  wraps ${k.wraps} data key(s)${k.primary ? '  (primary: wraps new keys)' : ''}\n`);
      for (const o of status.orphaned) process.stdout.write(`  ${o.wrapping_key_id}  MISSING: ${o.count} data key(s) cannot be opened\n`);
      return status.orphaned.length > 0 ? 1 : 0;
    });
  },
};

export const keysRotateCommand: Command = {
  summary: 'make a new master key and re-wrap every data key with it (the server keeps serving)',
  help:
    'Usage: modelshare keys rotate [--config FILE]\n\n' +
    'With the key file: adds a new master key to it and re-wraps every data key under the new key while\n' +
    'the server keeps serving. Then back up the key file again; `keys retire` removes the old key.\n' +
    'With keys.master_key: add the new key as the last line, restart the server, then run this command\n' +
    'to re-wrap; remove the old key from the configuration once `keys status` shows it wraps nothing.\n',
  async run(args) {
    return withKeys(args, ({ keys, masterKeys }) => {
      if (!masterKeys.managed) {
        const rewrapped = keys.rewrapAll();
        process.stdout.write(`re-wrapped ${rewrapped} data key(s) under the last key of keys.master_key\n`);
      } else {
        const { newKeyId, rewrapped } = keys.rotate();
        process.stdout.write(`new master key ${newKeyId}; re-wrapped ${rewrapped} data key(s). Back up ${masterKeys.description} now.\n`);
      }
      return 0;
    });
  },
};

export const keysRetireCommand: Command = {
  summary: 'remove old master keys that no data key is wrapped by any more',
  help: 'Usage: modelshare keys retire [--config FILE]\n\nRe-wraps what is left, then removes from the key file each older master key that wraps nothing.\n',
  async run(args) {
    return withKeys(args, ({ keys }) => {
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
