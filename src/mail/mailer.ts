/**
 * Outgoing mail through the customer's relay (nodemailer, the only file that imports it). Always over
 * TLS: `starttls` refuses a relay that does not offer STARTTLS, `tls` speaks TLS from the first byte,
 * and the relay's certificate is checked (against `smtp.ca_file` when it comes from an internal CA).
 */
import fs from 'node:fs';
import type { Transporter } from 'nodemailer';
import type { Config } from '../config/options.ts';

/** One plain-text message. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends mail; resolves once the relay has accepted the message. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
}

/** The relay of `config.smtp`, or undefined when no relay is configured. */
export function createMailer(config: Config): Mailer | undefined {
  const smtp = config.smtp;
  if (!smtp.host) return undefined;
  const options = {
    host: smtp.host,
    port: smtp.port,
    secure: smtp.security === 'tls',
    requireTLS: smtp.security === 'starttls',
    tls: { minVersion: 'TLSv1.2' as const, ...(smtp.ca_file ? { ca: fs.readFileSync(smtp.ca_file, 'utf8') } : {}) },
    ...(smtp.username ? { auth: { user: smtp.username, pass: smtp.password ?? '' } } : {}),
    // A relay that hangs must not hold invitations up for minutes.
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 30_000,
  };
  // Loaded at the first message, not at start: a server without mail never loads nodemailer (start-up, memory).
  let transport: Promise<Transporter> | undefined;
  return {
    async send(message) {
      transport ??= import('nodemailer').then((m) => m.default.createTransport(options));
      await (await transport).sendMail({ from: smtp.from, to: message.to, subject: message.subject, text: message.text });
    },
  };
}
