/**
 * A model's local folder, as the command keeps it: `baseline.bin` (the baseline it joined from),
 * `packets/<seq>.packet` (every packet since, in order) and `.modelshare.json` (which model, which
 * baseline, the head read in to). Joining is the latest baseline and then every packet after it;
 * reading in is every packet after the local head. Each file is verified before it counts, and the
 * head moves packet by packet, so an interrupted read-in goes on where it stopped.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ModelshareError, type ModelshareClient, type Model, type Packet } from './client.ts';
import { download, type Progress } from './transfer.ts';

export interface Workspace {
  dir: string;
  modelId: string;
  baselineSeq: number;
  head: number;
}

export const packetFile = (dir: string, seq: number) => path.join(dir, 'packets', `${String(seq).padStart(8, '0')}.packet`);

function saveWorkspace(w: Workspace, server: string): void {
  fs.writeFileSync(path.join(w.dir, '.modelshare.json'), `${JSON.stringify({ server, model_id: w.modelId, baseline_seq: w.baselineSeq, head: w.head }, null, 2)}\n`);
}

export function loadWorkspace(dir: string, modelId: string): Workspace | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(dir, '.modelshare.json'), 'utf8')) as { model_id: string; baseline_seq: number; head: number };
    return saved.model_id === modelId ? { dir, modelId, baselineSeq: saved.baseline_seq, head: saved.head } : undefined;
  } catch {
    return undefined;
  }
}

/** The model, accepting the caller's pending invitation to it first if they are not a member yet. */
export async function modelOrInvitation(client: ModelshareClient, modelId: string): Promise<{ model: Model; accepted: boolean }> {
  try {
    return { model: await client.model(modelId), accepted: false };
  } catch (error) {
    if (!(error instanceof ModelshareError) || error.code !== 'not_found') throw error;
    const invitation = (await client.invitations()).find((i) => i.kind === 'model' && i.model?.id === modelId);
    if (!invitation) throw error;
    await client.acceptInvitation(invitation.id);
    return { model: await client.model(modelId), accepted: true };
  }
}

export interface Hooks {
  /** A progress callback for the transfer of `label`, or none. */
  progress?: (label: string, total: number | null) => Progress | undefined;
  /** Told after each packet is in place (the head is saved there). */
  onHead?: (head: number) => void;
}

/** Joins: the latest baseline into `dir`, then every packet after it. */
export async function join(client: ModelshareClient, modelId: string, dir: string, hooks: Hooks = {}): Promise<{ model: Model; workspace: Workspace; packets: Packet[]; accepted: boolean }> {
  const { model, accepted } = await modelOrInvitation(client, modelId);
  const baseline = model.latest_baseline;
  if (!baseline) throw new ModelshareError(0, 'no_baseline', 'The model has no baseline yet: its owner shares one first');
  fs.mkdirSync(path.join(dir, 'packets'), { recursive: true });
  await download(client, `/api/v1/models/${encodeURIComponent(modelId)}/baselines/${baseline.seq}`, path.join(dir, 'baseline.bin'), { expected: baseline.digest, onProgress: hooks.progress?.('baseline', baseline.size) });
  const workspace: Workspace = { dir, modelId, baselineSeq: baseline.seq, head: baseline.seq };
  saveWorkspace(workspace, client.server);
  hooks.onHead?.(workspace.head);
  const packets = await readIn(client, workspace, hooks);
  return { model, workspace, packets, accepted };
}

/** Reads in every packet after the workspace's head; returns them in order. */
export async function readIn(client: ModelshareClient, workspace: Workspace, hooks: Hooks = {}): Promise<Packet[]> {
  fs.mkdirSync(path.join(workspace.dir, 'packets'), { recursive: true });
  const got: Packet[] = [];
  for (let next: string | undefined, more = true; more; ) {
    const page = await client.packets(workspace.modelId, workspace.head, next);
    for (const packet of page.packets) {
      if (packet.seq !== workspace.head + 1) throw new ModelshareError(0, 'gap', `The server skipped from packet ${workspace.head} to ${packet.seq}`);
      await download(client, `/api/v1/models/${encodeURIComponent(workspace.modelId)}/packets/${packet.seq}`, packetFile(workspace.dir, packet.seq), { expected: packet.digest, onProgress: hooks.progress?.(`packet ${packet.seq}`, packet.size) });
      workspace.head = packet.seq;
      saveWorkspace(workspace, client.server);
      hooks.onHead?.(workspace.head);
      got.push(packet);
    }
    next = page.next ?? undefined;
    more = next !== undefined;
  }
  return got;
}

/** Keeps a packet this side wrote out in the folder too, so it holds the whole history since its baseline. */
export async function keepWrittenOut(workspace: Workspace, file: string, seq: number, server: string): Promise<void> {
  fs.mkdirSync(path.join(workspace.dir, 'packets'), { recursive: true });
  await fs.promises.copyFile(file, packetFile(workspace.dir, seq));
  workspace.head = seq;
  saveWorkspace(workspace, server);
}
