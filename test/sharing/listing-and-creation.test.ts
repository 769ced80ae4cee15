/**
 * Issue 15, "correctness found on the way": GET /models pages filter in SQL (full pages, a walk that
 * reaches every visible model), the organization of a partner's model, Idempotency-Key on POST
 * /models, and integers in queries parsed strictly.
 */
import test from 'ava';
import { orgWorld, people } from '../helpers/orgs.ts';

test('query integers are parsed strictly: 0x2, 2e0, " 2", 1.0 and repeated values are refused', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  for (const bad of ['0x2', '2e0', '%202', '1.0', '0b10', '+2', '', '2&limit=3', '0', '201']) {
    const models = await world.call('GET', `/api/v1/models?limit=${bad}`, bob.token);
    t.is(models.status, 400, `models limit=${bad}`);
    t.is(models.body['code'], 'validation_failed');
    const invitations = await world.call('GET', `/api/v1/invitations?limit=${bad}`, bob.token);
    t.is(invitations.status, 400, `invitations limit=${bad}`);
  }
  t.is((await world.call('GET', '/api/v1/models?limit=2', bob.token)).status, 200);
  t.is((await world.call('GET', '/api/v1/invitations?limit=2', bob.token)).status, 200);
});

test('GET /models pages are full and the walk reaches every model the caller may see', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const rita = await world.login(people.rita);
  // Rival shares 8 models with Bob, then switches Bob's sharing off there: those 8 are hidden from him.
  for (let i = 0; i < 8; i++) {
    const model = await world.call('POST', '/api/v1/models', rita.token, { name: `Rival ${i}` });
    const invitation = await world.call('POST', `/api/v1/models/${model.body['id']}/invitations`, rita.token, { email: people.bob.email, role: 'viewer' });
    t.is((await world.call('POST', `/api/v1/invitations/${invitation.body['id']}/accept`, bob.token)).status, 200);
  }
  const visible = new Set<string>();
  for (let i = 0; i < 3; i++) visible.add(String((await world.call('POST', '/api/v1/models', bob.token, { name: `Firm ${i}` })).body['id']));
  const off = await world.call('PATCH', `/api/v1/organizations/${world.rival}/members/${bob.id}`, rita.token, { sharing_enabled: false });
  t.is(off.status, 200, JSON.stringify(off.body));

  const seen: string[] = [];
  const pages: number[] = [];
  let next: string | null = null;
  do {
    const page = await world.call('GET', `/api/v1/models?limit=1${next ? `&next=${next}` : ''}`, bob.token);
    t.is(page.status, 200);
    const models = page.body['models'] as { id: string }[];
    pages.push(models.length);
    seen.push(...models.map((m) => m.id));
    next = page.body['next'] as string | null;
  } while (next !== null && pages.length < 20);
  t.deepEqual([...seen].sort(), [...visible].sort());
  t.is(seen.length, 3);
  t.deepEqual(pages, [1, 1, 1]);
});

test('a partner\'s model belongs to the organization that admitted them, whose admins and switches then apply', async (t) => {
  const world = await orgWorld(t);
  const ada = await world.login(people.ada);
  const carla = await world.login(people.carla);
  const invitation = await world.call('POST', `/api/v1/organizations/${world.firm}/invitations`, ada.token, { email: people.carla.email });
  t.is(invitation.status, 201, JSON.stringify(invitation.body));
  t.is((await world.call('POST', `/api/v1/invitations/${invitation.body['id']}/accept`, carla.token)).status, 200);
  const created = await world.call('POST', '/api/v1/models', carla.token, { name: 'Partner facade' });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.is(created.body['organization_id'], world.firm);
  // Firm's admin sees it without being a member, and Firm's switch for Carla reaches it.
  t.is((await world.call('GET', `/api/v1/models/${created.body['id']}`, ada.token)).status, 200);
  t.is((await world.call('PATCH', `/api/v1/organizations/${world.firm}/members/${carla.id}`, ada.token, { sharing_enabled: false })).status, 200);
  t.like((await world.call('GET', `/api/v1/models/${created.body['id']}`, carla.token)).body, { code: 'sharing_disabled' });
});

test('POST /models honours Idempotency-Key: a retry answers the first model and creates nothing twice', async (t) => {
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const ada = await world.login(people.ada);
  const share = (token: string, key: string, name = 'Retried share') =>
    world.server.fetch(`${world.server.url}/api/v1/models`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ name }),
    });
  const refused = await share(bob.token, 'not a token!');
  t.is(refused.status, 400);
  const first = await share(bob.token, '3f1c1c1e-6f0e-4c53-9d59-4c0d7b8e2a10');
  t.is(first.status, 201);
  t.is(first.headers.get('idempotent-replayed'), null);
  const model = (await first.json()) as Record<string, unknown>;
  const [again, concurrent] = await Promise.all([share(bob.token, '3f1c1c1e-6f0e-4c53-9d59-4c0d7b8e2a10'), share(bob.token, '3f1c1c1e-6f0e-4c53-9d59-4c0d7b8e2a10')]);
  for (const retry of [again, concurrent]) {
    t.is(retry.status, 201);
    t.is(retry.headers.get('idempotent-replayed'), 'true');
    t.is(((await retry.json()) as Record<string, unknown>)['id'], model['id']);
  }
  // The key is the caller's own: another person's same key, or another key, makes a new model.
  const other = (await (await share(ada.token, '3f1c1c1e-6f0e-4c53-9d59-4c0d7b8e2a10')).json()) as Record<string, unknown>;
  t.not(other['id'], model['id']);
  t.is((await share(bob.token, 'another-key')).status, 201);
  const mine = (await world.call('GET', '/api/v1/models', bob.token)).body['models'] as { id: string }[];
  t.is(mine.length, 2);
  const creations = world.server.services.audit.recent(new Date(0)).filter((e) => e.action === 'model.create' && e.outcome === 'allowed');
  t.is(creations.length, 3);
});
