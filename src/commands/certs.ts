/** `modelshare certs show | csr | import`: the server's certificates, and the corporate-CA flow. */
import fs from 'node:fs';
import path from 'node:path';
import { openReadOnlyStores, openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Log } from '../log.ts';
import { CertificateProblem, checkServable, describeCertificate, parseChain, type CertificateInfo } from '../tls/certificate.ts';
import { createRequest, importChain, loadImported } from '../tls/csr.ts';
import type { TlsContext } from '../tls/provider.ts';
import { TlsRepo } from '../tls/repo.ts';
import { subjectNames } from '../tls/service.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

/** Opens the data directory for a certs command; `readOnly` (certs show) opens nothing for writing and creates nothing. */
async function withTls<T>(config: Config, log: Log, work: (ctx: TlsContext) => Promise<T>, readOnly = false): Promise<T> {
  const stores = readOnly ? openReadOnlyStores(config) : openStores(config, log);
  try {
    return await work({ repo: new TlsRepo(stores.db), keys: stores.keys, clock: systemClock, log });
  } finally {
    stores.close();
  }
}

function line(label: string, info: CertificateInfo): string {
  return `${label}: serial ${info.serial}, for ${info.names.join(', ')}, valid until ${info.notAfter.toISOString()}\n`;
}

export const certsShowCommand: Command = {
  summary: 'show the CA fingerprint (for pinning) and the server certificate: names, expiry',
  help:
    'Usage: modelshare certs show [--config FILE]\n\n' +
    'Prints the TLS mode; in managed mode the internal CA and its SHA-256 fingerprint (what clients pin,\n' +
    'as `openssl x509 -fingerprint -sha256` prints it) and the server certificate it issued; in files mode\n' +
    'the certificate in tls.cert_file; in csr mode the imported certificate and any request waiting to be\n' +
    'signed. Changes nothing. Exits 1 if the certificate to serve is missing or cannot be used.\n',
  async run(args) {
    const { values } = parse(args, {});
    const { config, log } = setup(values);
    const out = (text: string) => process.stdout.write(text);
    out(`mode: ${config.tls.mode}\n`);
    return withTls(config, log, async (ctx) => {
      const authority = ctx.repo.authority();
      if (authority) {
        out(`internal CA: ${describeCertificate(parseChain(authority.certificate, 'the CA')[0]!).subject}\n`);
        out(`CA SHA-256 fingerprint: ${authority.fingerprint}\n`);
        out(`  clients download ${config.public_url}/ca.pem and check it against this fingerprint\n`);
      } else if (config.tls.mode === 'managed') {
        out('internal CA: not created yet; the first `modelshare serve` creates it\n');
      }
      try {
        if (config.tls.mode === 'managed') {
          const chain = ctx.repo.certificate('managed')?.chain;
          out(chain ? line('server certificate', describeCertificate(parseChain(chain, 'the managed certificate')[0]!)) : 'server certificate: issued at the next start\n');
        } else if (config.tls.mode === 'files') {
          const served = checkServable(fs.readFileSync(config.tls.cert_file, 'utf8'), fs.readFileSync(config.tls.key_file, 'utf8'), ctx.clock.now(), {
            chain: `tls.cert_file (${config.tls.cert_file})`,
            key: `tls.key_file (${config.tls.key_file})`,
          });
          out(line('server certificate', served.info));
        } else if (config.tls.mode === 'csr') {
          const imported = loadImported(ctx);
          out(imported ? line('imported certificate', imported.info) : 'imported certificate: none yet (`modelshare certs import CERT`)\n');
        }
        const pending = ctx.repo.certificate('csr-pending');
        if (pending) out(`certificate request waiting to be signed, made ${pending.created_at}\n`);
        return 0;
      } catch (error) {
        if (!(error instanceof CertificateProblem) && (error as NodeJS.ErrnoException).code === undefined) throw error;
        process.stderr.write(`modelshare: ${(error as Error).message}\n`);
        return 1;
      }
    }, true);
  },
};

export const certsCsrCommand: Command = {
  summary: 'make a key and a certificate signing request for your corporate CA',
  help:
    'Usage: modelshare certs csr [--out FILE] [--config FILE]\n\n' +
    'Makes a new RSA 2048 key and a certificate signing request for tls.names, tls.ip_addresses and the\n' +
    'host of public_url, and writes the request to FILE (default <data_dir>/modelshare.csr; - for standard\n' +
    'output). The key never leaves the server: it is sealed in the database. Have your CA sign the\n' +
    'request, then run `modelshare certs import CERT` and set tls.mode to csr. Running it again replaces a\n' +
    'request that was not imported yet; the certificate being served is not touched.\n',
  async run(args) {
    const { values } = parse(args, { out: { type: 'string', short: 'o' } });
    const { config, log } = setup(values);
    const names = subjectNames(config);
    const request = await withTls(config, log, (ctx) => createRequest(ctx, names));
    const file = values.out ?? path.join(config.data_dir, 'modelshare.csr');
    if (file === '-') process.stdout.write(request);
    else {
      fs.writeFileSync(file, request);
      process.stdout.write(
        `wrote the certificate signing request for ${[...names.dns, ...names.ips].join(', ')} to ${file}\n` +
          'The key is sealed in the database. Have your CA sign the request (as a TLS server certificate),\n' +
          'then run `modelshare certs import CERT` with the signed chain.\n',
      );
    }
    return 0;
  },
};

export const certsImportCommand: Command = {
  summary: 'install the chain your CA signed for `certs csr`, after checking it matches the key',
  help:
    'Usage: modelshare certs import CERT [--config FILE]\n\n' +
    'CERT is a PEM file: the server certificate first, then any intermediate certificates. It must be\n' +
    'for the key of the last `certs csr` (or of the certificate in use, for a renewal signed from the same\n' +
    'request), valid now, and in order. The server serves it when tls.mode is csr: a running server\n' +
    'switches to it within the hour (its tls-renewal job), or at once when restarted.\n',
  async run(args) {
    const { values, positionals } = parse(args, {}, true);
    const file = positionals[0];
    if (positionals.length !== 1 || file === undefined) {
      process.stderr.write('modelshare: certs import takes one file: the signed certificate chain (PEM)\n');
      return 2;
    }
    const { config, log } = setup(values);
    let pem: string;
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (error) {
      process.stderr.write(`modelshare: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})\n`);
      return 1;
    }
    return withTls(config, log, async (ctx) => {
      try {
        const served = importChain(ctx, pem, file);
        process.stdout.write(line('installed', served.info));
        const wanted = subjectNames(config);
        const missing = [...wanted.dns, ...wanted.ips].filter((n) => !served.info.names.includes(n));
        if (missing.length > 0) process.stdout.write(`note: the certificate does not cover ${missing.join(', ')}, which the configuration names\n`);
        if (config.tls.mode !== 'csr') process.stdout.write(`tls.mode is ${config.tls.mode}: set it to csr to serve this certificate\n`);
        return 0;
      } catch (error) {
        if (!(error instanceof CertificateProblem)) throw error;
        process.stderr.write(`modelshare: ${error.message}\n`);
        return 1;
      }
    });
  },
};
