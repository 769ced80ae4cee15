/** Builds the sharing domain: its repos, services and the dependencies of its routes. */
import type { AuditService } from '../audit/audit-service.ts';
import type { BlobService } from '../blobs/blob-service.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/options.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Db } from '../db/open.ts';
import type { People } from '../identity/people.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import { EventLog } from './events.ts';
import { EventFanout } from './event-fanout.ts';
import { HistoryRepo } from './history-repo.ts';
import { HistoryService } from './history-service.ts';
import { LocksRepo, LocksService } from './locks.ts';
import { BranchRepo, RollbackService } from './rollback.ts';
import { ModelMembersCsv } from './members-csv.ts';
import { ModelInvitations, type InvitationRules } from './invitations.ts';
import { ModelList } from './admin-list.ts';
import { ModelsRepo } from './models-repo.ts';
import { ModelsService } from './models-service.ts';
import type { SharingRouteDeps } from './routes.ts';
import type { Actor } from '../http/authenticate.ts';

export interface Sharing {
  models: ModelsService;
  history: HistoryService;
  invitations: ModelInvitations;
  events: EventLog;
  /** The admin lists of models (size, activity, search by name). */
  list: ModelList;
  locks: LocksService;
  rollbacks: RollbackService;
  membersCsv: ModelMembersCsv;
  routeDeps: SharingRouteDeps;
}

export function createSharing(d: { config: Config; db: Db; keys: Keyring; clock: Clock; audit: AuditService; people: People; gate: SharingGate; blobs: BlobService; assertInvitationLimits: InvitationRules['assertLimits']; displayName: (personId: string) => string; mailer: Mailer | undefined; stillValid: (actor: Actor) => boolean }): Sharing {
  const repo = new ModelsRepo(d.db, d.keys);
  const historyRepo = new HistoryRepo(d.db, d.keys);
  const events = new EventLog(d.db, d.clock);
  const deps = { db: d.db, keys: d.keys, clock: d.clock, audit: d.audit, people: d.people, gate: d.gate, models: repo, history: historyRepo, events };
  const limits = { packetBytes: d.config.limits.packet, baselineBytes: d.config.limits.baseline };
  const uploadPace = { bytesPerSecond: d.config.server.upload_min_rate, windowMs: d.config.server.upload_rate_window };
  const models = new ModelsService(deps);
  const locks = new LocksService(deps, models, new LocksRepo(d.db, d.keys));
  const branches = new BranchRepo(d.db);
  const history = new HistoryService(deps, d.blobs, models, { ...limits, uploadPace }, locks, branches);
  const rollbacks = new RollbackService(deps, models, d.blobs, locks, branches);
  const invitations = new ModelInvitations(deps, models, {
    lifetimeMs: d.config.invitations.lifetime,
    assertLimits: d.assertInvitationLimits,
    mailer: d.mailer,
    publicUrl: d.config.public_url,
    displayName: d.displayName,
  });
  const membersCsv = new ModelMembersCsv({ models, invitations, people: d.people, gate: d.gate, audit: d.audit, displayName: d.displayName, assertLimits: d.assertInvitationLimits });
  return {
    models,
    history,
    invitations,
    events,
    list: new ModelList(d.db, d.keys),
    locks,
    rollbacks,
    membersCsv,
    routeDeps: {
      models,
      history,
      locks,
      invitations,
      repo,
      historyRepo,
      gate: d.gate,
      blobs: d.blobs,
      displayName: d.displayName,
      limits,
      stream: {
        events,
        models: repo,
        gate: d.gate,
        clock: d.clock,
        stillValid: d.stillValid,
        fanout: new EventFanout({ events, models: repo, gate: d.gate, recheckMs: d.config.events.recheck, heartbeatMs: d.config.events.heartbeat }),
        replayWindowMs: d.config.events.replay_window,
        maxPerPerson: d.config.events.max_streams_per_person,
        open: new Map(),
      },
    },
  };
}
