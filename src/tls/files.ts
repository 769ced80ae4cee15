/**
 * Files mode: the admin supplies a PEM chain and key (from the corporate CA, or a tool such as
 * certbot). They are checked as a pair at start, which stops on a problem, and re-read when either
 * file changes; a pair that fails the checks then is logged and the one in use is kept.
 */
import fs from 'node:fs';
import { CertificateProblem, checkServable, type ServedCertificate } from './certificate.ts';
import { dayMs, type CertificateProvider, type TlsContext } from './provider.ts';

export interface FilesOptions {
  certFile: string;
  keyFile: string;
  /** How often the files are polled for changes; polling also sees a file replaced by a rename. */
  pollMs?: number;
}

/** Files supplied by an admin warn 30 days ahead: time to get and install the next certificate. */
export const filesWarnWithinMs = 30 * dayMs;

function readFile(file: string, key: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CertificateProblem(`${key} (${file}) cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** `changed` is called when a file changed on disk; the service then refreshes. */
export function filesProvider(ctx: TlsContext, options: FilesOptions, changed: () => void): CertificateProvider {
  const names = { chain: `tls.cert_file (${options.certFile})`, key: `tls.key_file (${options.keyFile})` };
  const read = () => checkServable(readFile(options.certFile, 'tls.cert_file'), readFile(options.keyFile, 'tls.key_file'), ctx.clock.now(), names);

  // Writers seldom replace both files at once: wait for the changes to settle before reading.
  let settle: NodeJS.Timeout | undefined;
  const onChange = () => {
    clearTimeout(settle);
    settle = setTimeout(changed, 250);
  };
  const pollMs = options.pollMs ?? 1000;
  for (const file of [options.certFile, options.keyFile]) fs.watchFile(file, { interval: pollMs, persistent: false }, onChange);

  return {
    async initial() {
      return read();
    },
    async refresh(current: ServedCertificate) {
      let next: ServedCertificate;
      try {
        next = read();
      } catch (error) {
        if (!(error instanceof CertificateProblem)) throw error;
        ctx.log.error({ problem: error.message }, 'the certificate files cannot be used; still serving the previous certificate');
        return { outcome: `kept the previous certificate: ${error.message}` };
      }
      if (next.chainPem === current.chainPem && next.keyPem === current.keyPem) return { outcome: 'unchanged' };
      ctx.log.info({ names: next.info.names, serial: next.info.serial, not_after: next.info.notAfter.toISOString() }, 'reloaded the certificate files');
      return { next, outcome: 'reloaded' };
    },
    warnWithinMs: () => filesWarnWithinMs,
    close() {
      clearTimeout(settle);
      fs.unwatchFile(options.certFile, onChange);
      fs.unwatchFile(options.keyFile, onChange);
    },
  };
}
