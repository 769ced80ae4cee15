/**
 * What the command keeps between runs, in one file only its user can read (0600, in a 0700
 * directory): for each server its trusted CA and fingerprint, the tokens of its login, and for each
 * model the local folder and the head it was read in to. The directory is the user's config dir
 * (`$XDG_CONFIG_HOME/modelshare-client`, `%APPDATA%\modelshare-client` on Windows) unless
 * `MODELSHARE_CLIENT_HOME` names another (tests use that).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TokenStore, Tokens } from './client.ts';

export interface ModelState {
  /** The folder the model was joined into (absent for a model shared from here and not read in yet). */
  dir?: string;
  /** The newest packet this side has: the `base` of the next write-out. */
  head: number;
}

export interface ServerState {
  ca?: string;
  fingerprint?: string;
  tokens?: Tokens;
  models: Record<string, ModelState>;
}

interface StoreFile {
  current?: string;
  servers: Record<string, ServerState>;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['MODELSHARE_CLIENT_HOME']) return path.resolve(env['MODELSHARE_CLIENT_HOME']);
  if (process.platform === 'win32' && env['APPDATA']) return path.join(env['APPDATA'], 'modelshare-client');
  return path.join(env['XDG_CONFIG_HOME'] || path.join(os.homedir(), '.config'), 'modelshare-client');
}

export class ClientStore {
  readonly file: string;

  constructor(dir = configDir()) {
    this.file = path.join(dir, 'client.json');
  }

  #read(): StoreFile {
    try {
      return JSON.parse(fs.readFileSync(this.file, 'utf8')) as StoreFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
      throw new Error(`${this.file} cannot be read: ${(error as Error).message}`);
    }
  }

  /** Writes the whole file anew (temp file, 0600, renamed over the old), so a crash leaves one or the other. */
  #write(data: StoreFile): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const temp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(temp, this.file);
  }

  get current(): string | undefined {
    return this.#read().current;
  }

  server(url: string): ServerState {
    return this.#read().servers[url] ?? { models: {} };
  }

  /** Changes one server's state (and makes it the current server). */
  update(url: string, change: (state: ServerState) => void): void {
    const data = this.#read();
    const state = data.servers[url] ?? { models: {} };
    change(state);
    data.servers[url] = state;
    data.current = url;
    this.#write(data);
  }

  tokensOf(url: string): TokenStore {
    return {
      load: () => this.server(url).tokens,
      save: (tokens) =>
        this.update(url, (s) => {
          if (tokens) s.tokens = tokens;
          else delete s.tokens;
        }),
    };
  }
}
