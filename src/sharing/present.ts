/** What leaves the server about models: whitelisted fields, snake_case, digests as RFC 9530 values. */
import type { BlobInfo } from '../blobs/blob-service.ts';
import { formatContentDigest } from '../crypto/digest.ts';
import type { Baseline, Packet } from './history-repo.ts';
import type { Member, Model } from './models-repo.ts';
import type { ModelRole } from './policy.ts';
import type { ModelInvitation } from './invitations.ts';
import { presentLock, type ModelLock } from './locks.ts';

/** Authors are ids; an erased person's packets keep theirs and the console shows "former member". */
export function presentBaseline(b: Baseline, blob: BlobInfo | undefined) {
  return { seq: b.seq, size: blob?.size ?? null, digest: blob ? formatContentDigest({ 'sha-256': blob.digests['sha-256'] }) : null, created_at: b.createdAt, author: b.authorId };
}

/** `lock` is the model's lock: `{locked: false}`, or its reason, who locked it and the one lock owner who may still write. */
export function presentModel(m: Model, role: ModelRole | null, latest: { baseline: Baseline; blob: BlobInfo } | undefined, lock: ModelLock | undefined) {
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    organization_id: m.organizationId,
    owner_id: m.ownerId,
    role,
    head: m.head,
    latest_baseline: latest ? presentBaseline(latest.baseline, latest.blob) : null,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    deleted_at: m.deletedAt,
    lock: presentLock(lock),
  };
}

export function presentPacket(p: Packet, blob: BlobInfo | undefined) {
  return { seq: p.seq, size: blob?.size ?? null, digest: blob ? formatContentDigest({ 'sha-256': blob.digests['sha-256'] }) : null, author: p.authorId, comment: p.comment, created_at: p.createdAt };
}

export function presentMember(m: Member, name: string) {
  return { user_id: m.personId, display_name: name, role: m.role, added_at: m.addedAt };
}

export function presentInvitation(i: ModelInvitation) {
  return { id: i.id, kind: 'model', model_id: i.modelId, email: i.email, role: i.role, invited_by: i.invitedBy, created_at: i.createdAt, expires_at: i.expiresAt };
}
