/**
 * Every setting of the server, in one table. The config file mirrors this shape; each key can also be
 * set from the environment as `MODELSHARE_<SECTION>_<KEY>` and each secret from a file named by
 * `<key>_file` (for Docker secrets and systemd credentials). `config/modelshare.example.yaml` documents
 * the same keys for operators, and a test keeps the two in step.
 */
import path from 'node:path';
import { boolean, cron, duration, integer, list, oneOf, required, secret, size, strings, text, timeZone, url, type ConfigOf } from './option-types.ts';

const dataDir = (partial: Record<string, unknown>) => String(partial['data_dir']);
/** A domain of e-mail addresses, such as firm.example (lower case, at least one dot). */
const emailDomain = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

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
    request_timeout: duration('Longest time a request may take to arrive whole (uploads of large baselines included); any positive time.', '6h', '1ms'),
    header_timeout: duration('Longest time the request headers may take to arrive; slower clients get 408. Capped at request_timeout.', '60s', '1ms'),
    idle_timeout: duration(
      'A connection with no progress in either direction for this long is closed: a stalled upload gets 408, an unread download or notification stream is dropped.',
      '60s',
      '1ms',
    ),
    upload_min_rate: size('Slowest upload accepted, in bytes per second averaged over upload_rate_window; slower uploads get 408 and leave nothing behind.', '1KiB'),
    upload_rate_window: duration('The time over which upload_min_rate is measured.', '60s', '1ms'),
    trust_proxy: boolean(
      'Trust X-Forwarded-For and X-Forwarded-Proto from a reverse proxy (tls.mode off behind a proxy). ' +
        'Leave false when clients connect directly, or they could forge their address.',
      false,
    ),
  },
  tls: {
    mode: oneOf(
      'managed: an internal CA issues and renews the certificate; files: cert_file and key_file; ' +
        'csr: the certificate from `modelshare certs import`; off: plain HTTP behind a reverse proxy.',
      'managed',
      ['managed', 'files', 'csr', 'off'],
    ),
    names: strings('Host names the certificate covers (managed and csr); the host of public_url is added.', ['localhost'], {
      pattern: /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/,
    }),
    ip_addresses: strings('IP addresses the certificate covers (managed and csr).', ['127.0.0.1'], { pattern: /^[0-9A-Fa-f.:]+$/ }),
    lifetime: duration('Lifetime of a certificate the managed CA issues (at most 825d, which clients accept).', '90d', '1h'),
    renew_at_percent: integer('Managed mode renews the certificate when this percentage of its lifetime has passed.', 67, 10, 95),
    cert_file: text('files mode: PEM certificate chain, server certificate first. Reloaded when it changes.', ''),
    key_file: text('files mode: PEM private key of that certificate. Reloaded when it changes.', ''),
    redirect_port: integer('When not 0, a plain-HTTP listener on this port that only redirects to public_url.', 0, 0, 65535),
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
  auth: {
    providers: list('The OpenID Connect providers people sign in with (Entra ID, Keycloak, Okta, ADFS, Authentik …).', {
      id: text('Short name, used in addresses (/auth/login/<id>).', required, { pattern: /^[a-z0-9][a-z0-9-]{0,31}$/ }),
      name: text('Name shown on the sign-in page; defaults to the id.', ''),
      issuer: url(
        'Issuer URL exactly as the provider states it (a trailing / included: Authentik and Entra ID v1 have one); its /.well-known/openid-configuration is read at start.',
        required,
        { exact: true },
      ),
      client_id: text('Client id registered at the provider.', required),
      client_secret: secret('Client secret registered at the provider; prefer client_secret_file.'),
      scopes: strings('Scopes asked for.', ['openid', 'email', 'profile']),
      ca_file: text('PEM file of the CA that signed the provider\'s TLS certificate, if it is not publicly trusted.', ''),
      email_verified: oneOf(
        'Whether its e-mail addresses count as verified: claim (trust its email_verified claim), always (it vouches for every address), never.',
        'claim',
        ['claim', 'always', 'never'],
      ),
      admin_groups: strings('Groups (from the groups claim) whose members are server admins.', []),
      claims: {
        email: text('Claim that holds the e-mail address.', 'email'),
        email_verified: text('Claim that says whether the e-mail address is verified.', 'email_verified'),
        name: text('Claim that holds the display name.', 'name'),
        groups: text('Claim that holds the groups.', 'groups'),
      },
    }),
    admins: strings('E-mail addresses of server admins (verified addresses only).', []),
    login_lifetime: duration('How long a browser sign-in may take, from leaving for the provider to coming back.', '10m', '1m'),
    clock_skew: duration('How far an ID token\'s issue time may lie in the future (clocks of the provider and this server differ a little).', '2m', '0ms'),
    session_idle: duration('A browser session ends after this long without use.', '8h', '1m'),
    session_lifetime: duration('A browser session ends this long after sign-in, however active.', '7d', '1m'),
    access_token_lifetime: duration('Lifetime of the access tokens of desktop clients.', '1h', '1m'),
    refresh_token_lifetime: duration('A desktop login ends when its refresh token goes unused this long.', '30d', '1h'),
    device_code_lifetime: duration('How long a desktop login code may wait for approval.', '10m', '1m'),
    device_poll_interval: duration('Least time between two polls of a waiting desktop client.', '5s', '1s'),
    provider_check_interval: duration('How often each sign-in provider is checked for reachability; while one cannot be reached its sign-ins answer 503.', '30s', '1ms'),
    provider_recheck: duration(
      'A desktop token refresh asks the sign-in provider again (with the refresh token of the person\'s last browser sign-in, when the provider issues one: ' +
        'add offline_access to its scopes) at most this often; a provider that no longer vouches for the person ends their logins and the memberships its claims gave.',
      '1h',
      '0ms',
    ),
    token_max_lifetime: duration('Longest lifetime a personal access token may have.', '365d', '1d'),
    break_glass_lifetime: duration('Lifetime of a token from `modelshare admin token`.', '15m', '1m'),
  },
  demo: {
    enabled: oneOf(
      'The built-in demo sign-in provider, for evaluation only. auto: on when no provider is configured, production is false and ' +
        'server.host is a loopback address; on: on any address too, with a warning in the log and on every page. ' +
        'It refuses to run next to a real provider or in production.',
      'auto',
      ['auto', 'on', 'off'],
    ),
    people: list(
      'The demo people, who sign in by picking their name (no password: evaluation only).',
      {
        email: text('E-mail address.', required),
        name: text('Display name.', required),
        server_admin: boolean('Whether this person is a server admin.', false),
      },
      [
        { email: 'ada@example.com', name: 'Ada Lovelace', server_admin: true },
        { email: 'bob@example.com', name: 'Bob Builder', server_admin: false },
        { email: 'carla@partner.example', name: 'Carla Partner', server_admin: false },
      ],
    ),
  },
  organizations: list(
    'Organizations declared here (more can be added through the admin API). The file owns these: their name, domains, admin groups and seats are set from it at every start.',
    {
      id: text('Short, stable name of the organization in this file; renaming the organization keeps it.', required, { pattern: /^[a-z0-9][a-z0-9-]{0,31}$/ }),
      name: text('Name shown to people.', required),
      domains: strings('E-mail domains whose verified addresses make a person an employee (member).', [], { pattern: emailDomain }),
      admin_groups: strings('Provider groups (from the groups claim) whose members are admins of the organization.', []),
      seats: integer('Sharing seats: how many members and partners may have sharing turned on at once.', 10, 0, 1_000_000),
    },
  ),
  invitations: {
    lifetime: duration('How long an invitation waits for an answer before it expires.', '14d', '1h'),
    max_pending_per_invitee: integer('Most pending invitations one address may have at once (all kinds together).', 50, 1, 10_000),
    max_sent_per_hour: integer('Most invitations one person may send in an hour (all kinds together).', 100, 1, 100_000),
  },
  notices: {
    inactive_after: duration('The admin notices list a member or partner who has not signed in for this long.', '90d', '1d'),
    seats_warn_percent: integer('The admin notices warn when this percentage of an organization\'s seats is in use.', 90, 1, 100),
  },
  smtp: {
    host: text('The mail relay invitations are sent through; empty: no e-mail (invitations are shown at sign-in only).', ''),
    port: integer('Port of the relay: 587 for starttls, 465 for tls.', 587, 1, 65535),
    security: oneOf('starttls: upgrade with STARTTLS, and refuse a relay that does not offer it; tls: TLS from the first byte.', 'starttls', ['starttls', 'tls']),
    ca_file: text('PEM file of the CA that signed the relay\'s certificate, if it is not publicly trusted.', ''),
    username: text('User name at the relay; empty: no authentication.', ''),
    password: secret('Password at the relay; prefer password_file.'),
    from: text('Sender of the mail the server sends.', 'Modelshare <modelshare@localhost>'),
  },
  storage: {
    min_free_bytes: size(
      'Free space the blob storage must keep. Below it /readyz reports degraded and uploads are refused with 507 until space is freed; 0 turns the floor off.',
      '1GiB',
    ),
    check_interval: duration('How often the data directory and the free space are checked in the background.', '5s', '1ms'),
    crypto_workers: integer(
      'Worker threads that digest, seal and open large blobs beside the thread that serves requests; 0, the default, does it on that thread. Their shared buffers are a fixed budget of 16 MiB per process (a transfer that finds it taken runs on its own thread); on a busy 2-core machine the hand-offs may cost more than they save.',
      0,
      0,
      2,
    ),
    inline_max_bytes: size(
      'Blobs (baselines and change packets) up to this size are sealed into the database instead of a file each, committed with their rows in one fsync (worth it where an fsync per file is slow, e.g. a network mount); 0, the default, keeps every blob in a file. At most 1MiB (a larger value acts as 1MiB).',
      '0',
    ),
    backend: oneOf('Where the sealed blobs are kept: fs (under data_dir/blobs) or s3 (S3-compatible object storage, storage.s3).', 'fs', ['fs', 's3']),
    s3: {
      endpoint: text('URL of the S3-compatible service (MinIO, Ceph RGW, StorageGRID, ECS); empty: AWS S3 in region.', '', { pattern: /^(https?:\/\/.+)?$/ }),
      bucket: text('Bucket the blobs are kept in (it must exist). Required with backend s3.', ''),
      prefix: text('Key prefix of everything the server writes into the bucket, such as "modelshare/".', '', { pattern: /^([A-Za-z0-9!_.*'()/-]*)$/ }),
      region: text('Region of the bucket (most S3-compatible services accept any name).', 'us-east-1'),
      path_style: boolean('Address the bucket in the path (https://host/bucket/key), as most on-premises services need; false: virtual-hosted (bucket.host).', true),
      access_key_id: secret('Access key id; prefer access_key_id_file. Unset: the AWS SDK\'s own chain (AWS_ACCESS_KEY_ID, instance role).'),
      secret_access_key: secret('Secret access key; prefer secret_access_key_file.'),
      ca_file: text('PEM file of the CA that signed the endpoint\'s TLS certificate, if it is not publicly trusted.', ''),
      part_size: size('Size of each multipart upload part (at least 5MiB); memory per upload is about part_size × (queue_size + 1).', '8MiB'),
      queue_size: integer('Parts of one upload sent at once.', 2, 1, 16),
    },
  },
  replication: {
    enabled: boolean(
      'Stream every change of the database to a second site with Litestream (started and supervised by the server). ' +
        'Set exactly one target: path (a second-site mount) or s3.bucket.',
      false,
    ),
    path: text('Target directory on a second-site mount (NFS, SMB, a disk in another room); outside data_dir. Empty: use s3.', ''),
    s3: {
      endpoint: text('S3-compatible endpoint (MinIO, Ceph RGW, StorageGRID, ECS …) as an http(s) URL; empty: AWS S3 itself.', ''),
      bucket: text('Bucket the replica is written to; empty: use path.', ''),
      path: text('Prefix inside the bucket for this server\'s replica.', 'modelshare/db'),
      region: text('Region of the bucket (most on-premises stores accept any).', 'us-east-1'),
      path_style: boolean('Address the bucket as endpoint/bucket (path style), as most on-premises stores need; false: bucket.endpoint.', true),
      access_key_id: secret('Access key id; prefer access_key_id_file. Unset: the environment\'s AWS_ACCESS_KEY_ID.'),
      secret_access_key: secret('Secret access key; prefer secret_access_key_file. Unset: the environment\'s AWS_SECRET_ACCESS_KEY.'),
      ca_file: text('PEM file of the CA that signed the endpoint\'s certificate, if it is not publicly trusted.', ''),
    },
    sync_interval: duration('How often new changes are shipped to the target (Litestream\'s sync-interval and monitor interval).', '1s', '100ms'),
    max_lag: duration('Replication lag (the recovery point: how old the newest change may be that a takeover would lose) above which /readyz and /status report degraded.', '30s', '1s'),
    heartbeat: duration('How often the server writes a heartbeat row, so a broken target shows as lag even while nobody writes.', '10s', '1s'),
    retention: duration('How long the replica keeps snapshots and WAL: the furthest back `restore --from-replica --at` can go.', '72h', '1h'),
  },
  limits: {
    json_body: size('Largest JSON request body.', '1MiB'),
    packet: size('Largest change packet.', '256MiB'),
    baseline: size('Largest baseline (a full snapshot of a model).', '20GiB'),
  },
  events: {
    heartbeat: duration('How often an idle notification stream sends a comment line, so proxies keep it open.', '15s', '100ms'),
    recheck: duration('How often an open stream re-checks its token or session and the access of its person (a revoked token, a removed member or a switched-off person loses the stream within this time).', '5s', '50ms'),
    replay_window: duration('How far back Last-Event-ID may reach; a client that asks for older events gets 410 events_expired and joins again.', '7d', '1m'),
    max_streams_per_person: integer('Event streams one person may keep open at once (more get 429).', 10, 1, 1000),
  },
  rate_limits: {
    per_address: integer('Requests per minute from one client address to each sign-in, token and device endpoint.', 60, 1, 100000),
    failed_tokens: integer('Bad bearer tokens per minute from one client address before it is turned away with 429.', 20, 1, 100000),
  },
  jobs: {
    time_zone: timeZone('Time zone of the job schedules (IANA name such as Europe/Zurich); empty: the server\'s own.'),
    runs_kept: duration('How long the record of each job run is kept.', '90d', '1d'),
    schedules: {
      tls_renewal: cron('Certificate renewal and expiry check (cron expression, or off).', '17 * * * *'),
      invitation_retention: cron('Removal of expired and answered invitations.', '41 3 * * *'),
      backup: cron('A backup into backup.dir (only when backup.dir is set).', '23 2 * * *'),
      backup_verify: cron('Verification of the newest backup.', '53 4 * * *'),
      backup_prune: cron('Removal of the backups the retention policy no longer keeps.', '13 5 * * *'),
      retention: cron('Purges under retention.* (deleted models, history, events, sessions, tokens), then vacuum.', '37 3 * * *'),
      blob_sweep: cron('Removal of orphan blob files (older than retention.orphan_blobs).', '7 * * * *'),
      audit_head: cron('Recording (and logging) the head of the audit log chain.', '*/15 * * * *'),
      notice_digest: cron('E-mail digest of new admin notices to each organization\'s admins (only where smtp is set, and only when a notice is new).', 'off'),
      audit_retention: cron('Removal of audit entries older than audit.retention, behind a start anchor.', '23 4 * * *'),
    },
  },
  backup: {
    dir: text('Directory backups are written to (a local disk or a network mount); empty: no backups. Must exist, be writable and lie outside data_dir.', ''),
    keep_last: integer('Backup retention: the newest backups kept, whatever their dates.', 3, 1, 10_000),
    keep_daily: integer('Backup retention: for this many of the latest days that have a backup, the newest of each day is kept.', 7, 0, 10_000),
    keep_weekly: integer('Backup retention: the same for ISO weeks.', 4, 0, 10_000),
    keep_monthly: integer('Backup retention: the same for calendar months.', 12, 0, 10_000),
  },
  retention: {
    deleted_models: duration('A deleted model is restorable this long; then its rows, blobs and data key are purged.', '30d', '1d'),
    history_baselines: integer('Keep the packet history back to the N-th newest baseline of each model; older packets are removed (410 history_pruned). 0 keeps every packet.', 0, 0, 1000),
    model_events: duration('How long notification events are kept for streams that reconnect (their replay window).', '30d', '1h'),
    sessions: duration('How long an ended browser session is kept.', '30d', '0ms'),
    refresh_tokens: duration('How long expired or revoked access and refresh tokens (and revoked desktop logins) are kept.', '30d', '0ms'),
    device_requests: duration('How long an expired desktop login request is kept.', '7d', '0ms'),
    login_requests: duration('How long an expired browser sign-in request is kept.', '1d', '0ms'),
    personal_tokens: duration('How long an expired or revoked personal access token is kept.', '90d', '0ms'),
    orphan_blobs: duration('A blob file without a catalog row (left by a crash) is removed once it is this old.', '24h', '1h'),
  },
  log: {
    level: oneOf('Log level.', 'info', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
    format: oneOf(
      'auto: readable lines when the log goes to a terminal, JSON lines otherwise (journald, Docker, files); json; pretty.',
      'auto',
      ['auto', 'json', 'pretty'],
    ),
  },
  metrics: {
    token: secret('Bearer token that Prometheus sends to read /metrics; prefer token_file. Unset, and allow_loopback off: /metrics is off.'),
    allow_loopback: boolean('Let /metrics be read without the token from this machine (a scraper on localhost, not through a proxy).', false),
  },
  audit: {
    retention: duration('Audit entries older than this are removed (behind a recorded checkpoint, so the log still verifies); 0 keeps all.', '730d'),
  },
};

/** The typed configuration that the table describes. */
export type Config = ConfigOf<typeof options>;
