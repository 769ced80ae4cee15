/**
 * Every setting of the server, in one table. The config file mirrors this shape; each key can also be
 * set from the environment as `MODELSHARE_<SECTION>_<KEY>` and each secret from a file named by
 * `<key>_file` (for Docker secrets and systemd credentials). `config/modelshare.example.yaml` documents
 * the same keys for operators, and a test keeps the two in step.
 */
import path from 'node:path';
import { boolean, duration, integer, oneOf, secret, size, text, url, type Option } from './option-types.ts';

const dataDir = (partial: Record<string, unknown>) => String(partial['data_dir']);

export const options = {
  production: boolean(
    'Marks a production deployment. The built-in demo sign-in provider refuses to run when this is true.',
    false,
  ),
  public_url: url('The address people and desktop clients use to reach the server.', 'https://localhost:8443'),
  data_dir: text('Directory for the database, the encrypted blobs and (by default) the master key file.', './data'),
  server: {
    host: text('Address to listen on. 0.0.0.0 or :: listens on every interface.', '127.0.0.1'),
    port: integer('Port to listen on; 0 picks a free port (the log says which).', 8443, 0, 65535),
    shutdown_timeout: duration('How long SIGTERM waits for requests in flight before closing them.', '30s'),
    max_header_size: size('Largest request header block accepted; larger ones get 431.', '16KiB'),
    request_timeout: duration('Longest time a request may take to arrive whole (uploads of large baselines included).', '6h', '1s'),
  },
  database: {
    path: text('The SQLite database file.', (p) => path.join(dataDir(p), 'modelshare.db')),
    synchronous: oneOf(
      'full: every commit is on disk before the server answers (a 201 survives power loss). ' +
        'normal: faster commits; a crash of the process loses nothing, a power loss may lose the last commits.',
      'full',
      ['full', 'normal'],
    ),
    busy_timeout: duration('How long a write waits for another writer (e.g. `modelshare keys rotate`).', '5s'),
  },
  keys: {
    master_key: secret(
      'Master key(s), base64 of 32 random bytes each, separated by newlines; the last one wraps new data keys. ' +
        'When set, the key file is not used. Prefer master_key_file (a Docker secret or systemd credential).',
    ),
    key_file: text(
      'File that holds the master keys when master_key is not set. Created (mode 0600) on first start. ' +
        'Back it up apart from the data: without it nothing in the data directory can be read.',
      (p) => path.join(dataDir(p), 'master.key'),
    ),
  },
  limits: {
    json_body: size('Largest JSON request body.', '1MiB'),
  },
  log: {
    level: oneOf('Log level.', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
  },
};

type Table = { readonly [key: string]: Option<unknown> | Table };

/** The typed configuration that the table describes. */
export type ConfigOf<T> = { readonly [K in keyof T]: T[K] extends Option<infer V> ? V : T[K] extends Table ? ConfigOf<T[K]> : never };
export type Config = ConfigOf<typeof options>;
export type OptionTable = Table;
