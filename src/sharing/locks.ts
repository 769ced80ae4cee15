/**
 * Model locks: an owner, a model admin or an organization admin locks a model with a reason, and may
 * name one lock owner who can still write (to investigate or repair). Everyone else's write-outs and
 * new baselines answer 423 `model_locked`, checked before a byte of the body is read; reads go on.
 * Locking and unlocking are `model` events on the model's stream (ids only) and audited.
 */
import type { Keyring } from '../crypto/keyring.ts';
import { openText, seal } from '../crypto/sealed.ts';
import type { Db } from '../db/open.ts';
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { ModelsService, SharingDeps } from './models-service.ts';
import { atLeast, type Standing } from './policy.ts';

export interface ModelLock {
  modelId: string;
  lockedBy: string;
  lockOwnerId: string | null;
  reason: string;
  lockedAt: string;
}

interface LockRow {
  model_id: string;
  locked_by: string;
  lock_owner_id: string | null;
  reason_sealed: Buffer;
  locked_at: string;
}

/** Lock and unlock: the owner, a model admin, or an admin of the model's organization. */
export const mayLock = (s: Standing) => atLeast(s.role, 'admin') || s.organizationAdmin;

export class LocksRepo {
  readonly #keys: Keyring;
  readonly #sql;

  constructor(db: Db, keys: Keyring) {
    this.#keys = keys;
    this.#sql = {
      get: db.prepare<[string], LockRow>('SELECT model_id, locked_by, lock_owner_id, reason_sealed, locked_at FROM model_locks WHERE model_id = ?'),
      put: db.prepare(
        `INSERT INTO model_locks (model_id, locked_by, lock_owner_id, reason_sealed, locked_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (model_id) DO UPDATE SET locked_by = excluded.locked_by, lock_owner_id = excluded.lock_owner_id, reason_sealed = excluded.reason_sealed, locked_at = excluded.locked_at`,
      ),
      remove: db.prepare('DELETE FROM model_locks WHERE model_id = ?'),
      all: db.prepare<[], LockRow>('SELECT model_id, locked_by, lock_owner_id, reason_sealed, locked_at FROM model_locks ORDER BY locked_at, model_id'),
    };
  }

  #open(row: LockRow): ModelLock {
    const reason = openText(this.#keys, { table: 'model_locks', column: 'reason', row: row.model_id }, row.reason_sealed);
    return { modelId: row.model_id, lockedBy: row.locked_by, lockOwnerId: row.lock_owner_id, reason, lockedAt: row.locked_at };
  }

  get(modelId: string): ModelLock | undefined {
    const row = this.#sql.get.get(modelId);
    return row ? this.#open(row) : undefined;
  }

  all(): ModelLock[] {
    return this.#sql.all.all().map((r) => this.#open(r));
  }

  put(lock: ModelLock, dataKeyId: string): void {
    const sealed = seal(this.#keys, dataKeyId, { table: 'model_locks', column: 'reason', row: lock.modelId }, lock.reason);
    this.#sql.put.run(lock.modelId, lock.lockedBy, lock.lockOwnerId, sealed, lock.lockedAt);
  }

  remove(modelId: string): boolean {
    return this.#sql.remove.run(modelId).changes === 1;
  }
}

export function presentLock(lock: ModelLock | undefined) {
  return lock ? { locked: true, reason: lock.reason, locked_by: lock.lockedBy, lock_owner_id: lock.lockOwnerId, locked_at: lock.lockedAt } : { locked: false };
}

/** The 423 a writer gets on a model locked for them. */
export function lockedError(lock: ModelLock): AppError {
  return new AppError('model_locked', `The model is locked: ${lock.reason}`, {
    extra: { reason: lock.reason, locked_by: lock.lockedBy, lock_owner_id: lock.lockOwnerId, locked_at: lock.lockedAt },
  });
}

export class LocksService {
  readonly #d: SharingDeps;
  readonly #models: ModelsService;
  readonly #locks: LocksRepo;

  constructor(deps: SharingDeps, models: ModelsService, locks: LocksRepo) {
    this.#d = deps;
    this.#models = models;
    this.#locks = locks;
  }

  #audit(actor: Actor, action: string, modelId: string, source: string, details: Record<string, unknown>, outcome: 'allowed' | 'denied' = 'allowed', reason?: string) {
    this.#d.audit.record({ action, outcome, reason, actor: { id: actor.person.id, email: actor.person.email ?? undefined }, target: { type: 'model', id: modelId }, source, details });
  }

  get(modelId: string): ModelLock | undefined {
    return this.#locks.get(modelId);
  }

  all(): ModelLock[] {
    return this.#locks.all();
  }

  /**
   * Throws 423 when the model is locked and `personId` is not its lock owner. Called before the body
   * is read, and again in the transaction that would commit the write (a lock taken meanwhile wins).
   */
  assertMayWrite(modelId: string, personId: string): void {
    const lock = this.#locks.get(modelId);
    if (lock && lock.lockOwnerId !== personId) throw lockedError(lock);
  }

  /** Locks the model (or changes the reason or lock owner of its lock). The lock owner must be a member who may write. */
  lock(actor: Actor, modelId: string, input: { reason: string; lockOwnerId: string | null }, source: string): ModelLock {
    const { model } = this.#models.locate(actor, modelId, 'model.lock', mayLock, source);
    if (input.lockOwnerId !== null && !atLeast(this.#d.models.role(modelId, input.lockOwnerId), 'editor')) {
      this.#audit(actor, 'model.lock', modelId, source, { lock_owner_id: input.lockOwnerId }, 'denied', 'lock_owner_not_writer');
      throw new AppError('validation_failed', 'The lock owner must be a member of the model who may write (editor or above)', {
        extra: { errors: [{ field: 'lock_owner_id', message: 'not an editor, admin or owner of this model' }] },
      });
    }
    const lock: ModelLock = { modelId, lockedBy: actor.person.id, lockOwnerId: input.lockOwnerId, reason: input.reason, lockedAt: this.#d.clock.now().toISOString() };
    const relocked = this.#d.db
      .transaction(() => {
        const earlier = this.#locks.get(modelId);
        this.#locks.put(lock, model.dataKeyId);
        this.#d.events.append(modelId, 'model', { change: 'locked', locked_by: lock.lockedBy, lock_owner_id: lock.lockOwnerId });
        return earlier !== undefined;
      })
      .immediate();
    this.#d.events.notify();
    this.#audit(actor, 'model.lock', modelId, source, { lock_owner_id: lock.lockOwnerId, relocked });
    return lock;
  }

  /** Unlocks the model; unlocking an unlocked model changes nothing and says so with 404. */
  unlock(actor: Actor, modelId: string, source: string): void {
    this.#models.locate(actor, modelId, 'model.unlock', mayLock, source);
    const removed = this.#d.db
      .transaction(() => {
        const gone = this.#locks.remove(modelId);
        if (gone) this.#d.events.append(modelId, 'model', { change: 'unlocked', unlocked_by: actor.person.id });
        return gone;
      })
      .immediate();
    if (!removed) throw new AppError('not_found', 'The model is not locked');
    this.#d.events.notify();
    this.#audit(actor, 'model.unlock', modelId, source, {});
  }
}
