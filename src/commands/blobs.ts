import { openStores } from '../boot.ts';
import { blobUses } from '../sharing/blob-uses.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const blobsVerifyCommand: Command = {
  summary: 'check every stored blob (file size, authentication of every segment, digest) and list the damaged ones',
  help:
    'Usage: modelshare blobs verify [--config FILE]\n\n' +
    'Reads every baseline and packet back from the blob storage, opens every encrypted segment and\n' +
    'compares the digest with the catalog. Damaged blobs are marked (downloads of them answer 500\n' +
    'blob_damaged before a byte is sent, and /readyz reports them) and listed, one a line, with the model\n' +
    'they belong to; restore them from a backup. A blob marked earlier that checks out again is cleared.\n' +
    'Safe while the server runs. Exit code 0 when every blob is intact, 1 when any is damaged.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    try {
      const useOf = blobUses(stores.db);
      let checked = 0;
      let damaged = 0;
      for (const id of stores.blobs.ids()) {
        const blob = stores.blobs.info(id);
        if (!blob) continue; // removed while we were checking
        const use = useOf(id);
        const context: Record<string, string | number> = use ? { model_id: use.model_id, [`${use.kind}_seq`]: use.seq } : {};
        const result = await stores.blobs.verify(blob, context);
        checked++;
        if (!result.ok) {
          damaged++;
          const what = use ? `model ${use.model_id} ${use.kind} ${use.seq}` : 'not referred to by any model';
          process.stdout.write(`DAMAGED  ${id}  ${result.reason}  ${what}\n`);
        }
      }
      process.stdout.write(`checked ${checked} blob(s): ${damaged === 0 ? 'all intact' : `${damaged} damaged; restore them from a backup`}\n`);
      return damaged === 0 ? 0 : 1;
    } finally {
      stores.close();
    }
  },
};
