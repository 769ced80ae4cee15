/** A shared model with one person in each role, plus an outsider, for the sharing tests. */
import type { ExecutionContext } from 'ava';
import { person, type Caller } from './people.ts';
import type { TestServer } from './server.ts';

export interface ModelWorld {
  modelId: string;
  owner: Caller;
  admin: Caller;
  editor: Caller;
  viewer: Caller;
  outsider: Caller;
}

/** Invites `who` to the model with `role` (as `by`) and has them accept. */
export async function addMember(t: ExecutionContext, by: Caller, modelId: string, who: Caller, role: 'admin' | 'editor' | 'viewer') {
  const invited = await by.call('POST', `/api/v1/models/${modelId}/invitations`, { json: { email: who.email, role } });
  t.is(invited.status, 201, JSON.stringify(invited.body));
  const accepted = await who.call('POST', `/api/v1/invitations/${invited.body['id']}/accept`);
  t.is(accepted.status, 200, JSON.stringify(accepted.body));
}

export async function modelWorld(t: ExecutionContext, server: TestServer): Promise<ModelWorld> {
  const owner = person(server, 'Olive');
  const created = await owner.call('POST', '/api/v1/models', { json: { name: 'Bridge B-12', description: 'Main span' } });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const world = { modelId, owner, admin: person(server, 'Adam'), editor: person(server, 'Eddie'), viewer: person(server, 'Vera'), outsider: person(server, 'Otto') };
  await addMember(t, owner, modelId, world.admin, 'admin');
  await addMember(t, world.admin, modelId, world.editor, 'editor');
  await addMember(t, world.admin, modelId, world.viewer, 'viewer');
  return world;
}
