/**
 * Models and their members: share (create), rename, delete and restore, transfer ownership, and the
 * member roles. Every change is audited and announced on the model's event stream.
 */
import crypto from 'node:crypto';
import type { AuditService } from '../audit/audit-service.ts';
import type { Clock } from '../clock.ts';
import type { Keyring } from '../crypto/keyring.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { People } from '../identity/people.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import { ModelAccess, type Located, type LocateOptions } from './access.ts';
import type { EventLog } from './events.ts';
import type { HistoryRepo } from './history-repo.ts';
import type { Member, Model, ModelsRepo } from './models-repo.ts';
import { policy, type ModelRole, type Standing } from './policy.ts';

export interface SharingDeps {
  db: Db;
  keys: Keyring;
  clock: Clock;
  audit: AuditService;
  people: People;
  gate: SharingGate;
  models: ModelsRepo;
  history: HistoryRepo;
  events: EventLog;
}

/** Calls of the admin API, whose gate already found the caller an admin over the model (see ModelAccess.locate). */
export type Admin = { administer?: boolean };

export class ModelsService {
  readonly access: ModelAccess;
  readonly #d: SharingDeps;

  constructor(deps: SharingDeps) {
    this.#d = deps;
    this.access = new ModelAccess(deps.models, deps.gate);
  }

  #now(): string {
    return this.#d.clock.now().toISOString();
  }

  #audit(actor: Actor, action: string, model: { id: string }, source: string, details?: Record<string, unknown>, outcome: 'allowed' | 'denied' = 'allowed', reason?: string) {
    this.#d.audit.record({ action, outcome, reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: model.id }, source, details });
  }

  /** Runs `locate`, auditing a refusal: every denied attempt on a model lands in the audit log. */
  locate(actor: Actor, modelId: string, action: string, allow: (s: Standing) => boolean, source: string, options: LocateOptions = {}): Located {
    try {
      return this.access.locate(actor, modelId, allow, options);
    } catch (error) {
      if (error instanceof AppError) this.#audit(actor, action, { id: modelId }, source, undefined, 'denied', error.code);
      throw error;
    }
  }

  /**
   * A page of the caller's models, those they may share in now. The sharing gate is asked once per
   * organization, and the repo filters by its answers in SQL, so every page is full.
   */
  list(actor: Actor, after: string, limit: number): { models: (Model & { role: ModelRole })[]; more: boolean } {
    const mayShare = (organizationId: string | null) => {
      try {
        this.#d.gate.assertMayShare(actor.person, organizationId);
        return true;
      } catch (error) {
        if (error instanceof AppError) return false;
        throw error;
      }
    };
    const allowed = this.#d.models.organizationsOfMember(actor.person.id).filter(mayShare);
    const rows = this.#d.models.listForPerson(actor.person.id, after, limit + 1, {
      ids: allowed.filter((id): id is string => id !== null),
      outsideAny: allowed.includes(null),
    });
    return { models: rows.slice(0, limit), more: rows.length > limit };
  }

  /**
   * Shares a new model; the caller becomes its owner. With an Idempotency-Key, a retry returns the
   * model the first attempt made (`replayed`) and creates nothing twice.
   */
  create(
    actor: Actor,
    input: { name: string; description: string | null; organizationId?: string | undefined; idempotencyKey?: string | null | undefined },
    source: string,
  ): { model: Model; replayed: boolean } {
    const key = input.idempotencyKey ?? null;
    const earlier = key ? this.#d.models.byIdempotencyKey(actor.person.id, key) : undefined;
    if (earlier) return { model: this.#d.models.get(earlier)!, replayed: true };
    const organizationId = this.#d.gate.organizationForNewModel(actor.person, input.organizationId);
    try {
      this.#d.gate.assertMayShare(actor.person, organizationId);
    } catch (error) {
      if (error instanceof AppError) this.#d.audit.record({ action: 'model.create', outcome: 'denied', reason: error.code, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, source });
      throw error;
    }
    const id = `m_${crypto.randomBytes(12).toString('hex')}`;
    const now = this.#now();
    const made = this.#d.db.transaction(() => {
      // Asked again under the write lock: of two racing retries, the second finds the first's model.
      const raced = key ? this.#d.models.byIdempotencyKey(actor.person.id, key) : undefined;
      if (raced) return { model: this.#d.models.get(raced)!, replayed: true };
      const dataKeyId = this.#d.keys.create('model');
      this.#d.models.insert({ id, organizationId, dataKeyId, name: input.name, description: input.description, ownerId: actor.person.id, createdAt: now }, key);
      this.#d.models.setMember(id, actor.person.id, 'owner', now);
      return { model: this.#d.models.get(id)!, replayed: false };
    }).immediate();
    if (!made.replayed) this.#audit(actor, 'model.create', made.model, source, { organization_id: organizationId });
    return made;
  }

  update(actor: Actor, modelId: string, input: { name?: string | undefined; description?: string | null | undefined }, source: string): Model {
    const { model } = this.locate(actor, modelId, 'model.update', policy.manage, source);
    const next = { ...model, name: input.name ?? model.name, description: input.description === undefined ? model.description : input.description };
    this.#d.db.transaction(() => {
      this.#d.models.update(next, this.#now());
      this.#d.events.append(modelId, 'model', { change: 'renamed' });
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.update', model, source);
    return this.#d.models.get(modelId)!;
  }

  /** Soft delete: invisible to members at once, restorable until retention purges it. */
  remove(actor: Actor, modelId: string, source: string, options: Admin = {}): void {
    const { model } = this.locate(actor, modelId, 'model.delete', policy.own, source, options);
    this.#d.db.transaction(() => {
      this.#d.models.setDeleted(modelId, this.#now(), actor.person.id, this.#now());
      this.#d.events.append(modelId, 'model', { change: 'deleted' });
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.delete', model, source);
  }

  restore(actor: Actor, modelId: string, source: string, options: Admin = {}): Model {
    const { model } = this.locate(actor, modelId, 'model.restore', policy.own, source, { ...options, deleted: true });
    this.#d.db.transaction(() => {
      this.#d.models.setDeleted(modelId, null, null, this.#now());
      this.#d.events.append(modelId, 'model', { change: 'restored' });
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.restore', model, source);
    return this.#d.models.get(modelId)!;
  }

  /** Makes `newOwnerId` the owner (adding them if needed); the old owner becomes an admin. */
  transfer(actor: Actor, modelId: string, newOwnerId: string, source: string, options: Admin = {}): Model {
    const { model } = this.locate(actor, modelId, 'model.transfer', policy.own, source, options);
    const person = this.#d.people.get(newOwnerId);
    if (!person || person.email === null) throw new AppError('validation_failed', 'The new owner must be a person known to this server', { extra: { errors: [{ field: 'user_id', message: 'unknown person' }] } });
    this.#d.gate.assertMayShare(person, model.organizationId);
    const now = this.#now();
    this.#d.db.transaction(() => {
      if (model.ownerId !== newOwnerId) this.#d.models.setMember(modelId, model.ownerId, 'admin', now);
      this.#d.models.setMember(modelId, newOwnerId, 'owner', now);
      this.#d.models.setOwner(modelId, newOwnerId, now);
      this.#d.events.append(modelId, 'model', { change: 'owner_changed', owner_id: newOwnerId });
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.transfer', model, source, { from: model.ownerId, to: newOwnerId });
    return this.#d.models.get(modelId)!;
  }

  members(actor: Actor, modelId: string, source: string, options: Admin & { deleted?: boolean } = {}): Member[] {
    this.locate(actor, modelId, 'model.members', policy.view, source, options);
    return this.#d.models.members(modelId);
  }

  setRole(actor: Actor, modelId: string, personId: string, role: ModelRole, source: string): Member {
    const { model, standing } = this.locate(actor, modelId, 'model.member_role', policy.manage, source);
    const current = this.#d.models.role(modelId, personId);
    if (current === null) throw new AppError('not_found', 'That person is not a member of this model');
    if (!policy.setRole(standing, current, role)) {
      this.#audit(actor, 'model.member_role', model, source, { person_id: personId, role }, 'denied', 'role_above_own');
      throw new AppError('forbidden', 'You cannot give a role above your own, or change the owner (transfer ownership instead)');
    }
    this.#d.db.transaction(() => {
      this.#d.models.setMember(modelId, personId, role, this.#now());
      this.#d.events.append(modelId, 'membership', { change: 'role_changed', person_id: personId, role }, personId);
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.member_role', model, source, { person_id: personId, from: current, to: role });
    return this.#d.models.members(modelId).find((m) => m.personId === personId)!;
  }

  removeMember(actor: Actor, modelId: string, personId: string, source: string): void {
    const self = personId === actor.person.id;
    const { model, standing } = this.locate(actor, modelId, 'model.member_remove', self ? policy.view : policy.manage, source);
    const current = this.#d.models.role(modelId, personId);
    if (current === null) throw new AppError('not_found', 'That person is not a member of this model');
    if (!policy.remove(standing, current, self)) {
      this.#audit(actor, 'model.member_remove', model, source, { person_id: personId }, 'denied', current === 'owner' ? 'owner' : 'role_above_own');
      throw new AppError('forbidden', current === 'owner' ? 'The owner cannot be removed; transfer ownership first' : 'You cannot remove someone above your own role');
    }
    this.#d.db.transaction(() => {
      this.#d.models.removeMember(modelId, personId);
      this.#d.events.append(modelId, 'membership', { change: 'removed', person_id: personId }, personId);
    }).immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.member_remove', model, source, { person_id: personId });
  }
}
