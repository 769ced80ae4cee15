/**
 * The JSON answers of the sharing calls as zod schemas, for the OpenAPI document. They describe what
 * present.ts whitelists; the contract test holds every answer seen in the tests to them.
 */
import { z } from 'zod';

const time = z.iso.datetime({ offset: true }).describe('RFC 3339, UTC');
const digest = z.string().regex(/^sha-(256|512)=:[A-Za-z0-9+/]+={0,2}:/).describe('An RFC 9530 Content-Digest value');
const role = z.enum(['owner', 'admin', 'editor', 'viewer']);
const cursor = z.string().nullable().describe('Pass as ?next= for the following page; null on the last page');

export const baselineResponse = z
  .object({ seq: z.int().min(0), size: z.int().min(0).nullable(), digest: digest.nullable(), created_at: time, author: z.string() })
  .strict()
  .meta({ id: 'Baseline' });

export const packetResponse = z
  .object({ seq: z.int().min(1), size: z.int().min(0).nullable(), digest: digest.nullable(), author: z.string(), comment: z.string().nullable(), created_at: time })
  .strict()
  .meta({ id: 'Packet' });

/** The model's lock: `{locked: false}`, or why, by whom, and the one lock owner who may still write. */
export const lockResponse = z
  .union([
    z.object({ locked: z.literal(false) }).strict(),
    z.object({ locked: z.literal(true), reason: z.string(), locked_by: z.string(), lock_owner_id: z.string().nullable(), locked_at: time }).strict(),
  ])
  .meta({ id: 'ModelLock' });

export const modelResponse = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    organization_id: z.string().nullable(),
    owner_id: z.string(),
    role: role.nullable().describe("The caller's role; null for an organization admin who is no member"),
    head: z.int().min(0).describe('The number of the newest packet'),
    latest_baseline: baselineResponse.nullable(),
    created_at: time,
    updated_at: time,
    deleted_at: time.nullable(),
    lock: lockResponse,
  })
  .strict()
  .meta({ id: 'Model' });

export const memberResponse = z
  .object({ user_id: z.string(), display_name: z.string(), role, added_at: time })
  .strict()
  .meta({ id: 'Member' });

export const modelInvitationResponse = z
  .object({ id: z.string(), kind: z.literal('model'), model_id: z.string(), email: z.string(), role: role.exclude(['owner']), invited_by: z.string(), created_at: time, expires_at: time })
  .strict()
  .meta({ id: 'ModelInvitation' });

export const modelListResponse = z.object({ models: z.array(modelResponse), next: cursor }).strict();
export const memberListResponse = z.object({ members: z.array(memberResponse) }).strict();
export const invitationListResponse = z.object({ invitations: z.array(modelInvitationResponse) }).strict();
export const baselineListResponse = z.object({ baselines: z.array(baselineResponse), next: cursor }).strict();
export const packetListResponse = z.object({ packets: z.array(packetResponse), head: z.int().min(0), next: cursor }).strict();
