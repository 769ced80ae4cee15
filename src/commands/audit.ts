import { AuditService } from '../audit/audit-service.ts';
import { openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const auditVerifyCommand: Command = {
  summary: 'check that the audit log was not altered, cut short, reordered or thinned out',
  help:
    'Usage: modelshare audit verify [--config FILE] [--head SEQ:HASH] [--json]\n\n' +
    'Walks the hash chain of the audit log from where retention left it and names the first entry that\n' +
    'was altered, removed or moved; then checks the newest recorded head, so a cut-off tail is found.\n' +
    '--head checks a head taken from a log line ("audit log head") or a backup manifest as well.\n' +
    'Exits 0 when the log verifies, 1 when it does not.\n',
  async run(args) {
    const { values } = parse(args, { head: { type: 'string' }, json: { type: 'boolean' } });
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    try {
      const audit = new AuditService(stores.db, stores.keys, systemClock);
      const report = audit.verify();
      let external: { seq: number; hash: string; on_chain: boolean } | undefined;
      if (typeof values.head === 'string') {
        const match = /^(\d+):([0-9a-f]{64})$/.exec(values.head);
        if (!match) {
          process.stderr.write('--head must be SEQ:HASH, as the "audit log head" log line or a backup manifest gives it\n');
          return 2;
        }
        external = { seq: Number(match[1]), hash: match[2]!, on_chain: audit.hasHead(Number(match[1]), match[2]!) };
      }
      const ok = report.ok && (external?.on_chain ?? true);
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ ...report, ok, external_head: external ?? null })}\n`);
      } else {
        process.stdout.write(`audit log: ${report.entries} entries checked, #${report.first_seq} to #${report.last_seq}`);
        process.stdout.write(report.erased > 0 ? `, ${report.erased} with details erased (a person's erasure)\n` : '\n');
        if (report.head_checked) process.stdout.write(`recorded head #${report.head_checked.seq} of ${report.head_checked.recorded_at}: checked\n`);
        if (report.problem) process.stdout.write(`FAILED: ${report.problem.kind}: ${report.problem.message}\n`);
        if (external) process.stdout.write(external.on_chain ? `head #${external.seq}: on the chain\n` : `FAILED: head #${external.seq} ${external.hash} is not on the stored chain\n`);
        if (ok) process.stdout.write('OK: the audit log verifies\n');
      }
      return ok ? 0 : 1;
    } finally {
      stores.close();
    }
  },
};
