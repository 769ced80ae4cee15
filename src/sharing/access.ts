/**
 * Finding a model for a caller and deciding, in one place, whether they may see it and act on it.
 * A model the caller may not see answers 404 exactly like one that does not exist.
 */
import { AppError } from '../errors.ts';
import type { Actor } from '../http/authenticate.ts';
import type { SharingGate } from '../orgs/sharing-gate.ts';
import type { Model, ModelsRepo } from './models-repo.ts';
import { policy, type Standing } from './policy.ts';

export interface Located {
  model: Model;
  standing: Standing;
}

export interface LocateOptions {
  deleted?: boolean;
  administer?: boolean;
}

export class ModelAccess {
  constructor(
    readonly models: ModelsRepo,
    readonly gate: SharingGate,
  ) {}

  standing(actor: Actor, model: Model): Standing {
    return {
      role: this.models.role(model.id, actor.person.id),
      organizationAdmin: model.organizationId !== null && this.gate.isOrganizationAdmin(actor.person.id, model.organizationId),
    };
  }

  /**
   * The model, if the caller may see it and may share now. `allow` decides the action; a caller who
   * may see the model but not do this gets 403, anyone else 404. Deleted models are found only when
   * `deleted` is set (restore). `administer` is for the admin API only, whose route gate has already
   * found the caller an admin of the model's organization (or a server admin): they stand as its
   * organization admin, and do not need a sharing seat of their own to administer.
   */
  locate(actor: Actor, modelId: string, allow: (s: Standing) => boolean, options: LocateOptions = {}): Located {
    const model = this.models.get(modelId);
    const standing = model ? (options.administer ? { role: this.models.role(model.id, actor.person.id), organizationAdmin: true } : this.standing(actor, model)) : undefined;
    if (!model || !standing || !policy.view(standing) || (model.deletedAt !== null) !== (options.deleted ?? false)) {
      throw new AppError('not_found', 'There is no such model');
    }
    if (!options.administer) this.gate.assertMayShare(actor.person, model.organizationId);
    if (!allow(standing)) throw new AppError('forbidden', 'Your role on this model does not allow this');
    return { model, standing };
  }
}
