/**
 * Notices for admins (issue 22): a person the provider stopped vouching for shows up with the models
 * they own, and so do their ownerless models, locked models, inactive people, seats nearly used up;
 * server admins also see failed backups.
 */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';

const kinds = (body: Record<string, unknown>) => (body['notices'] as Record<string, unknown>[]).map((n) => n['kind']);

test('a person removed at the provider shows up in the notices with their models; refusals first', async (t) => {
  const world = await orgWorld(t, {}, 3);
  const ada = await world.login(people.ada);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  const notices = (token: string) => world.call('GET', `/api/v1/organizations/${world.firm}/notices`, token);

  t.like(await notices(bob.token), { status: 403, body: { code: 'forbidden' } });
  t.like(await notices(rita.token), { status: 404 });
  t.like(await world.call('GET', '/api/v1/admin/notices', ada.token), { status: 403 });

  const created = await world.call('POST', '/api/v1/models', bob.token, { name: 'Tower T1' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const quiet = await notices(ada.token);
  t.is(quiet.status, 200);
  t.deepEqual(kinds(quiet.body), [], 'nothing to see yet');

  // The provider no longer vouches for Bob as an employee (his address moved elsewhere): he leaves at his next sign-in.
  await world.signInAgain({ ...people.bob, email: 'bob@elsewhere.example' });
  t.is(world.server.services.orgs.repo.membership(world.firm, bob.id), undefined);
  t.is((await world.call('PUT', `/api/v1/models/${modelId}/lock`, ada.token, { reason: 'owner left' })).status, 200);

  const seen = await notices(ada.token);
  t.deepEqual(kinds(seen.body).sort(), ['model_locked', 'model_owner_gone', 'person_left']);
  const list = seen.body['notices'] as Record<string, unknown>[];
  t.like(list.find((n) => n['kind'] === 'person_left'), { person_id: bob.id, reason: 'provider_stopped_vouching', models: [{ id: modelId, name: 'Tower T1' }] });
  t.like(list.find((n) => n['kind'] === 'model_owner_gone'), { model: { id: modelId }, owner: { person_id: bob.id }, action: { method: 'POST', path: `/api/v1/models/${modelId}/owner` } });
  t.like(list.find((n) => n['kind'] === 'model_locked'), { model: { id: modelId }, reason: 'owner left', locked_by: ada.id });

  // Three months without a sign-in, all three seats taken (Ada, Dave, Erin), a failed backup.
  await world.login({ sub: 'dave', email: 'dave@firm.example', email_verified: true, name: 'Dave' });
  await world.login({ sub: 'erin', email: 'erin@firm.example', email_verified: true, name: 'Erin' });
  world.clock.advance(91 * 24 * 3600 * 1000);
  world.server.stores.db.prepare("INSERT INTO job_runs (job, trigger, holder, started_at, ended_at, outcome, error) VALUES ('backup', 'schedule', 'test', ?, ?, 'failed', 'disk full')").run(new Date().toISOString(), new Date().toISOString());
  // Tokens expired meanwhile: the admins sign in again (so they are not inactive themselves).
  const ada2 = await world.login(people.ada);
  const later = await notices(ada2.token);
  t.deepEqual((later.body['notices'] as Record<string, unknown>[]).filter((n) => n['kind'] === 'person_inactive').map((n) => n['email']).sort(), ['dave@firm.example', 'erin@firm.example']);
  t.like((later.body['notices'] as Record<string, unknown>[]).find((n) => n['kind'] === 'seats_nearly_used'), { seats: 3, used: 3, available: 0 });
  t.false(kinds(later.body).includes('backup_failed'), 'backups are the server admins\' concern');
  const server = await world.call('GET', '/api/v1/admin/notices', (await world.login(people.root)).token);
  t.is(server.status, 200, JSON.stringify(server.body));
  t.like((server.body['notices'] as Record<string, unknown>[]).find((n) => n['kind'] === 'backup_failed'), { job: 'backup', error: 'disk full' });
  t.true(kinds(server.body).includes('person_left'));
});
