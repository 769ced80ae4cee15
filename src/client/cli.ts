/**
 * The `modelshare-client` command: each subcommand is a few lines over the library (client.ts,
 * transfer.ts, events.ts, workspace.ts). People get sentences and, on a terminal, a progress bar;
 * scripts get `--json` (one JSON document a command, one line an event for `watch`) and exit codes:
 * 0 done, 1 failed, 2 wrong usage, 3 not up to date (read in first), 4 not signed in.
 */
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { ModelshareClient, ModelshareError } from './client.ts';
import { watch } from './events.ts';
import { ClientStore } from './store.ts';
import { fetchServerCa, hasFingerprint, normalizeFingerprint } from './trust.ts';
import { download, uploadBaseline, writeOut, type Progress } from './transfer.ts';
import { join, keepWrittenOut, loadWorkspace, readIn, type Hooks } from './workspace.ts';

export const usage = `modelshare-client: share and join Modelshare models from the command line

  login [--server URL] [--fingerprint SHA256]   sign in (device login: open the address, enter the code)
  logout | whoami | models
  share FILE --name NAME [--description TEXT]   share a new model with FILE as its baseline
  join MODEL DIR                                download the model into DIR (accepts your invitation)
  read-in MODEL DIR                             download the packets written out since
  write-out MODEL FILE [--comment TEXT]         upload FILE as the next change packet
  baseline MODEL FILE                           upload FILE as a new baseline at the current head
  history MODEL | members MODEL
  invite MODEL EMAIL --role editor|viewer|admin
  watch [MODEL]                                 print events as they happen (resumes after a drop)
  download API-PATH FILE                        one baseline or packet, e.g. /api/v1/models/m_…/baselines/latest

  --json for output scripts can read. The server is the last one you signed in to, or --server,
  or MODELSHARE_SERVER. Credentials live in MODELSHARE_CLIENT_HOME (default: your config dir).`;

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

class UsageError extends Error {}

export async function runCli(argv: string[], io: Io): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        server: { type: 'string' }, fingerprint: { type: 'string' }, json: { type: 'boolean', default: false }, name: { type: 'string' }, description: { type: 'string' },
        comment: { type: 'string' }, base: { type: 'string' }, role: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  const { values: o, positionals: [command, ...rest] } = args;
  if (!command || o.help) {
    io.stdout.write(`${usage}\n`);
    return command || o.help ? 0 : 2;
  }
  const commands = ['login', 'logout', 'whoami', 'models', 'share', 'join', 'read-in', 'write-out', 'baseline', 'history', 'members', 'invite', 'watch', 'download'];
  if (!commands.includes(command)) {
    io.stderr.write(`There is no command "${command}"\n\n${usage}\n`);
    return 2;
  }
  const store = new ClientStore(io.env['MODELSHARE_CLIENT_HOME'] ? path.resolve(io.env['MODELSHARE_CLIENT_HOME']) : undefined);
  const server = (o.server ?? io.env['MODELSHARE_SERVER'] ?? store.current ?? 'https://localhost:8443').replace(/\/+$/, '');
  const say = (text: string, json: unknown) => io.stdout.write(o.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  const need = (n: number, what: string) => {
    if (rest.length < n) throw new UsageError(`${command} needs ${what}`);
    return rest;
  };
  let client: ModelshareClient | undefined;
  const bars = new cliProgress.MultiBar({ stream: io.stderr as NodeJS.WriteStream, format: ' {label} [{bar}] {percentage}% {value}/{total} bytes', clearOnComplete: false, hideCursor: true }, cliProgress.Presets.shades_classic);
  const progress = (label: string, total: number | null): Progress | undefined => {
    if (o.json || !io.stderr.isTTY) return undefined; // quiet unless a person watches
    const bar = bars.create(total ?? 0, 0, { label });
    return (done, all) => {
      bar.setTotal(all);
      bar.update(done);
    };
  };
  const hooks: Hooks = { progress };

  try {
    if (command === 'login') {
      const ca = await trustServer(server, o.fingerprint, store, io);
      client = new ModelshareClient({ server, ca, tokens: store.tokensOf(server), clientName: `modelshare-client on ${os.hostname()}` });
      const start = await client.startDeviceLogin();
      say(`To sign in, open ${start.verification_uri} in a browser and enter the code ${start.user_code}\n(or open ${start.verification_uri_complete})\nWaiting for approval…`, { verification_uri: start.verification_uri, verification_uri_complete: start.verification_uri_complete, user_code: start.user_code });
      await client.finishDeviceLogin(start);
      const me = await client.me();
      say(`Signed in to ${server} as ${describePerson(me)}`, { signed_in: true, server, me });
      return 0;
    }

    const state = store.server(server);
    if (!state.tokens) throw new ModelshareError(401, 'not_signed_in', `Not signed in to ${server}: run \`modelshare-client login --server ${server}\` first`);
    client = new ModelshareClient({ server, ca: state.ca, tokens: store.tokensOf(server) });
    const modelHead = (modelId: string) => {
      const m = store.server(server).models[modelId];
      const w = m?.dir ? loadWorkspace(m.dir, modelId) : undefined;
      return { state: m, workspace: w, head: w?.head ?? m?.head };
    };
    const remember = (modelId: string, change: { dir?: string; head: number }) => store.update(server, (s) => void (s.models[modelId] = { ...s.models[modelId], ...change }));

    switch (command) {
      case 'logout':
        await client.logout();
        say(`Signed out of ${server}`, { signed_out: true });
        return 0;
      case 'whoami': {
        const me = await client.me();
        say(`${describePerson(me)} on ${server}`, me);
        return 0;
      }
      case 'models': {
        const [models, invitations] = await Promise.all([client.models(), client.invitations()]);
        const lines = models.map((m) => `${m.id}  ${m.name}  (${m.role ?? 'org admin'}, head ${m.head})`);
        for (const i of invitations.filter((i) => i.kind === 'model')) lines.push(`${i.model!.id}  ${i.model!.name}  (invited as ${i.role}: join it to accept)`);
        say(lines.length ? lines.join('\n') : 'No models yet: share one, or ask to be invited.', { models, invitations });
        return 0;
      }
      case 'share': {
        const [file] = need(1, 'a FILE');
        if (!o.name) throw new UsageError('share needs --name NAME');
        const model = await client.createModel({ name: o.name, ...(o.description ? { description: o.description } : {}) });
        const baseline = await uploadBaseline(client, model.id, 0, file!, progress('baseline', null));
        remember(model.id, { head: 0 });
        say(`Shared "${model.name}" as ${model.id}; others join it with: modelshare-client join ${model.id} DIR`, { model: { ...model, latest_baseline: baseline } });
        return 0;
      }
      case 'join':
      case 'read-in': {
        const [modelId, dirArg] = need(2, 'MODEL and DIR');
        const dir = path.resolve(dirArg!);
        const existing = loadWorkspace(dir, modelId!);
        const onHead = (head: number) => remember(modelId!, { dir, head });
        if (command === 'read-in' && existing) {
          const packets = await readIn(client, existing, { ...hooks, onHead });
          say(packets.length ? `Read in ${packets.length} packet(s): ${dir} is at head ${existing.head}` : `Up to date at head ${existing.head}`, { model_id: modelId, dir, head: existing.head, packets });
          return 0;
        }
        const joined = await join(client, modelId!, dir, { ...hooks, onHead });
        say(`${joined.accepted ? 'Accepted the invitation; ' : ''}joined "${joined.model.name}" in ${dir}: baseline ${joined.workspace.baselineSeq}, ${joined.packets.length} packet(s), head ${joined.workspace.head}`, { model: joined.model, dir, baseline_seq: joined.workspace.baselineSeq, head: joined.workspace.head, packets: joined.packets, accepted_invitation: joined.accepted });
        return 0;
      }
      case 'write-out': {
        const [modelId, file] = need(2, 'MODEL and FILE');
        const known = modelHead(modelId!);
        const base = o.base !== undefined ? Number(o.base) : known.head;
        if (base === undefined || !Number.isInteger(base)) throw new UsageError(`Join the model first (modelshare-client join ${modelId} DIR), or give --base N`);
        try {
          const { packet, replayed } = await writeOut(client, modelId!, base, file!, { ...(o.comment ? { comment: o.comment } : {}), onProgress: progress('packet', null) });
          if (known.workspace) await keepWrittenOut(known.workspace, file!, packet.seq, server);
          remember(modelId!, { ...(known.workspace ? { dir: known.workspace.dir } : {}), head: packet.seq });
          say(`Wrote out packet ${packet.seq}${replayed ? ' (the server had it already)' : ''}`, { packet, replayed });
          return 0;
        } catch (error) {
          if (error instanceof ModelshareError && error.code === 'not_up_to_date') {
            const dir = known.state?.dir ?? 'DIR';
            throw new ModelshareError(409, 'not_up_to_date', `The model has moved on (head ${String(error.problem['head'] ?? '?')}, you are at ${base}): read in first with \`modelshare-client read-in ${modelId} ${dir}\`, merge, then write out again`, error.problem);
          }
          throw error;
        }
      }
      case 'baseline': {
        const [modelId, file] = need(2, 'MODEL and FILE');
        const seq = o.base !== undefined ? Number(o.base) : modelHead(modelId!).head;
        if (seq === undefined) throw new UsageError(`Join the model first (modelshare-client join ${modelId} DIR)`);
        try {
          const baseline = await uploadBaseline(client, modelId!, seq, file!, progress('baseline', null));
          say(`Uploaded baseline ${baseline.seq}`, { baseline });
          return 0;
        } catch (error) {
          if (error instanceof ModelshareError && error.code === 'not_up_to_date') throw new ModelshareError(409, 'not_up_to_date', `The model has moved on (head ${String(error.problem['head'] ?? '?')}): read in first, then upload the baseline`, error.problem);
          throw error;
        }
      }
      case 'history': {
        const [modelId] = need(1, 'MODEL');
        const baselines = await client.baselines(modelId!);
        const packets = [];
        for (let page = await client.packets(modelId!, 0); ; page = await client.packets(modelId!, 0, page.next!)) {
          packets.push(...page.packets);
          if (!page.next) break;
        }
        const lines = [...baselines.map((b) => `baseline ${b.seq}  ${b.created_at}  ${b.size ?? '?'} bytes  by ${b.author}`), ...packets.map((p) => `packet ${p.seq}  ${p.created_at}  ${p.size ?? '?'} bytes  by ${p.author}${p.comment ? `  "${p.comment}"` : ''}`)];
        say(lines.join('\n') || 'No history yet', { baselines, packets });
        return 0;
      }
      case 'members': {
        const [modelId] = need(1, 'MODEL');
        const members = await client.members(modelId!);
        say(members.map((m) => `${m.display_name}  ${m.role}  (${m.user_id})`).join('\n'), { members });
        return 0;
      }
      case 'invite': {
        const [modelId, email] = need(2, 'MODEL and EMAIL');
        const role = o.role ?? 'viewer';
        if (!['admin', 'editor', 'viewer'].includes(role)) throw new UsageError('--role is admin, editor or viewer');
        const invitation = await client.invite(modelId!, email!, role as 'editor');
        say(`Invited ${email} as ${role}; they join with: modelshare-client join ${modelId} DIR`, { invitation });
        return 0;
      }
      case 'watch': {
        const [modelId] = rest;
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        for await (const event of watch(client, { ...(modelId ? { modelId } : {}), signal: stop.signal, onReconnect: (n, ms) => void io.stderr.write(`(the event stream dropped; reconnecting in ${Math.round(ms / 1000)} s, try ${n})\n`) })) {
          say(`${event.type}  ${JSON.stringify(event.data)}`, event);
        }
        return 0;
      }
      case 'download': {
        const [apiPath, dest] = need(2, 'PATH and FILE');
        const result = await download(client, apiPath!, path.resolve(dest!), { onProgress: progress('download', null) });
        say(`Downloaded ${result.size} bytes (verified)`, { size: result.size, sha256: result.sha256.toString('base64'), resumed: result.resumed });
        return 0;
      }
      default:
        throw new UsageError(`There is no command "${command}"`);
    }
  } catch (error) {
    bars.stop();
    if (error instanceof UsageError) {
      io.stderr.write(`${error.message}\n\n${usage}\n`);
      return 2;
    }
    const e = error instanceof ModelshareError ? error : undefined;
    const cause = (error as { cause?: NodeJS.ErrnoException }).cause;
    const untrusted = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(String(cause?.code ?? (error as NodeJS.ErrnoException).code ?? ''));
    const message = e
      ? e.message
      : untrusted
        ? `${server} presented a certificate that does not chain to the CA trusted at first contact (${store.server(server).fingerprint ?? 'none stored'}): it is not that server, or its CA changed. Ask its administrator; to trust a new CA, remove the server from ${store.file} and log in again.`
        : `${(error as Error).message}${cause ? ` (${cause.message})` : ''}`;
    io.stderr.write(o.json ? `${JSON.stringify({ error: { code: e?.code ?? 'client_error', status: e?.status, message } })}\n` : `modelshare-client: ${message}\n`);
    return e?.code === 'not_up_to_date' ? 3 : e?.code === 'not_signed_in' ? 4 : 1;
  } finally {
    bars.stop();
    await client?.close();
  }
}

function describePerson(me: Record<string, unknown>): string {
  const name = String(me['display_name'] ?? me['name'] ?? '');
  const email = me['email'] ? ` <${String(me['email'])}>` : '';
  return `${name}${email}`.trim() || String(me['id']);
}

/**
 * The CA to trust for `server`: the one stored at first contact, or, the first time, the one the
 * server presents, if its fingerprint is the one given (`--fingerprint`) or a person confirms it.
 */
async function trustServer(server: string, fingerprint: string | undefined, store: ClientStore, io: Io): Promise<string | undefined> {
  if (server.startsWith('http://')) {
    io.stderr.write(`Warning: ${server} is plain HTTP; use it only behind a TLS proxy on the same machine\n`);
    return undefined;
  }
  const known = store.server(server);
  if (known.ca && known.fingerprint) {
    if (fingerprint && normalizeFingerprint(fingerprint) !== known.fingerprint) throw new Error(`${server} is trusted with the CA fingerprint ${known.fingerprint}, not ${normalizeFingerprint(fingerprint)}; if its CA really changed, remove it from ${store.file}`);
    return known.ca;
  }
  const ca = await fetchServerCa(server);
  if (fingerprint) {
    if (!hasFingerprint(ca, fingerprint)) throw new Error(`The server's CA has the fingerprint ${ca.fingerprint}, not ${normalizeFingerprint(fingerprint)}: it is not the server you meant, or someone is in between. Nothing was trusted.`);
  } else {
    if (!io.stdin.isTTY) throw new Error(`First contact with ${server}: its CA fingerprint is ${ca.fingerprint}. Check it against the one the server printed at start, then run login again with --fingerprint ${ca.fingerprint}`);
    const rl = readline.createInterface({ input: io.stdin, output: io.stderr });
    const answer = await rl.question(`First contact with ${server}.\nIts CA certificate has the SHA-256 fingerprint\n  ${ca.fingerprint}\nCompare it with the one the server printed at start (or \`modelshare certs show\`). Trust it? [y/N] `);
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) throw new Error('Not trusted; nothing was stored');
  }
  store.update(server, (s) => Object.assign(s, { ca: ca.pem, fingerprint: ca.fingerprint }));
  return ca.pem;
}
