/**
 * A real SMTP server on loopback (smtp-server, from the nodemailer project) that keeps every message
 * it receives: the relay of the tests. It offers STARTTLS with a self-signed certificate (made with
 * openssl), which the server under test trusts through `smtp.ca_file`, and asks for a password.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { SMTPServer } from 'smtp-server';
import { tmpDir } from './tmp.ts';

export interface SmtpSink {
  port: number;
  caFile: string;
  username: string;
  password: string;
  /** Every message received: envelope and raw text. */
  messages: { from: string; to: string[]; raw: string; secure: boolean }[];
}

export async function startSmtpSink(t: ExecutionContext): Promise<SmtpSink> {
  const dir = tmpDir(t, 'modelshare-smtp-');
  const keyFile = path.join(dir, 'smtp.key');
  const caFile = path.join(dir, 'smtp.crt');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', caFile, '-days', '2', '-subj', '/CN=test-smtp', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  const sink: SmtpSink = { port: 0, caFile, username: 'modelshare', password: 'relay-secret', messages: [] };
  const server = new SMTPServer({
    key: fs.readFileSync(keyFile),
    cert: fs.readFileSync(caFile),
    authMethods: ['PLAIN', 'LOGIN'],
    // Authentication only after STARTTLS: a password never crosses the wire in the clear.
    allowInsecureAuth: false,
    onAuth(auth, _session, callback) {
      if (auth.username === sink.username && auth.password === sink.password) callback(null, { user: auth.username });
      else callback(new Error('invalid credentials'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        sink.messages.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8'), secure: session.secure });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return sink;
}

/** The server settings that send mail through `sink`, over STARTTLS with its password. */
export function smtpEnv(sink: SmtpSink): Record<string, string> {
  return {
    MODELSHARE_SMTP_HOST: '127.0.0.1',
    MODELSHARE_SMTP_PORT: String(sink.port),
    MODELSHARE_SMTP_CA_FILE: sink.caFile,
    MODELSHARE_SMTP_USERNAME: sink.username,
    MODELSHARE_SMTP_PASSWORD: sink.password,
    MODELSHARE_SMTP_FROM: 'Modelshare <noreply@firm.example>',
  };
}
