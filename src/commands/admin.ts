import { openStores } from '../boot.ts';
import { systemClock } from '../clock.ts';
import { createServices } from '../services.ts';
import type { Command } from './index.ts';
import { parse, setup } from './common.ts';

export const adminTokenCommand: Command = {
  summary: 'print a short-lived server-admin token, for when the sign-in provider is down (break-glass)',
  help:
    'Usage: modelshare admin token --email ADDRESS [--config FILE]\n\n' +
    'Prints a bearer token that acts as a server admin for auth.break_glass_lifetime (15 minutes by\n' +
    'default). Its issue and every use are recorded in the audit log. Use it when the organization\'s\n' +
    'sign-in provider is down; the token is printed once and stored only as a hash.\n',
  async run(args) {
    const { values } = parse(args, { email: { type: 'string' } });
    const email = typeof values.email === 'string' ? values.email.trim() : '';
    if (!/^[^\s@]+@[^\s@]+$/.test(email)) {
      process.stderr.write('modelshare admin token: --email ADDRESS is required\n');
      return 2;
    }
    const { config, log } = setup(values);
    const stores = openStores(config, log);
    try {
      const { identity } = createServices(config, stores, systemClock, log, { withoutDemo: true });
      const { token, expiresAt } = identity.breakGlass(email);
      process.stdout.write(`${token}\n`);
      process.stderr.write(`break-glass admin token for ${email}, valid until ${expiresAt.toISOString()}; its use is audited\n`);
      return 0;
    } finally {
      stores.close();
    }
  },
};
