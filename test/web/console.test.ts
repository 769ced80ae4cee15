/**
 * The web console in a real browser (headless Chromium), signed in through the real test provider:
 * an organization admin pages and searches 10,000 models, deletes and restores one, switches a
 * member's sharing off (and the API refuses that member), filters and exports the audit log, and
 * creates and revokes a token; a member gets no admin page, and another organization's admin sees
 * none of this organization's data. axe-core checks every page; each page is saved as a screenshot.
 */
import fs from 'node:fs';
import test from 'ava';
import type { Page } from 'playwright-core';
import { checkPage, launchChromium, signedInPage } from '../helpers/chromium.ts';
import { eventually } from '../helpers/eventually.ts';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';
import { publicUrl } from '../helpers/sign-in.ts';

/** Inserts `count` models owned by `ownerId` in one transaction, straight through the repo. */
function insertModels(world: OrgWorld, organizationId: string, ownerId: string, count: number): void {
  const { db, keys } = world.server.stores;
  const repo = world.server.services.sharing.routeDeps.repo;
  const now = world.clock.now().toISOString();
  db.transaction(() => {
    const dataKeyId = keys.create('model');
    for (let i = 1; i <= count; i++) {
      const id = `m_bulk${String(i).padStart(6, '0')}`;
      repo.insert({ id, organizationId, dataKeyId, name: `Model ${String(i).padStart(5, '0')} ${i % 2 ? 'Beam' : 'Slab'}`, description: null, ownerId, createdAt: now });
      repo.setMember(id, ownerId, 'owner', now);
    }
  })();
}

const base = `${publicUrl}/console/organizations`;

/** A request from inside the page (same origin, its cookies), as a script or a hand-made form would send it. */
async function inBrowser(page: Page, path: string, form?: string) {
  return page.evaluate(async ({ path, form }) => {
    const res = await fetch(path, form === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    return { status: res.status, headers: Object.fromEntries(res.headers) };
  }, { path, form });
}

test('an organization admin runs the organization from the console', async (t) => {
  t.timeout(300_000);
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  insertModels(world, world.firm, bob.id, 10_000);
  const browser = await launchChromium(t, world);
  const { page, cspViolations } = await signedInPage(world, browser, people.ada);
  await checkPage(t, page, 'my-models');

  // Strict CSP on every page; the stylesheet comes from the server and may be cached.
  const home = await inBrowser(page, '/console');
  t.regex(home.headers['content-security-policy'] ?? '', /default-src 'self'/);
  t.notRegex(home.headers['content-security-policy'] ?? '', /unsafe-inline/);
  const css = await inBrowser(page, '/assets/console.css');
  t.is(css.status, 200);
  t.regex(css.headers['cache-control'] ?? '', /max-age=86400/);

  // Members: switch Bob's sharing off, and the API refuses him.
  t.is((await world.call('GET', '/api/v1/models?limit=1', bob.token)).status, 200);
  await page.getByRole('link', { name: 'Firm Engineering' }).click();
  await checkPage(t, page, 'org-members');
  t.regex(await page.locator('main').innerText(), /Sharing seats: \d+ of 10 in use/);
  await page.getByRole('button', { name: 'Turn sharing off for Bob Builder' }).click();
  t.truthy(await page.getByRole('button', { name: 'Turn sharing on for Bob Builder' }).count());
  const refused = await world.call('GET', '/api/v1/models?limit=1', bob.token);
  t.is(refused.status, 403, JSON.stringify(refused.body));
  await page.getByLabel('Role of Bob Builder').selectOption('partner');
  await page.getByRole('button', { name: 'Set role' }).click();
  t.is(world.server.services.orgs.repo.membership(world.firm, bob.id)!.role, 'partner');

  // Models: 10,000 of them, paged and searched on the server.
  await page.getByRole('link', { name: 'Models', exact: true }).click();
  await checkPage(t, page, 'org-models');
  t.is(await page.locator('#model-count').innerText(), '10000 models; page 1 of 200.');
  t.is(await page.locator('tbody tr').count(), 50);
  t.is(await page.locator('tbody tr').first().locator('td').first().innerText(), 'Model 00001 Beam');
  await page.getByRole('link', { name: 'Next page' }).click();
  t.is(await page.locator('#model-count').innerText(), '10000 models; page 2 of 200.');
  t.is(await page.locator('tbody tr').first().locator('td').first().innerText(), 'Model 00051 Beam');
  await page.getByLabel('Search by name').fill('Model 0424');
  await page.getByRole('button', { name: 'Show' }).click();
  t.is(await page.locator('#model-count').innerText(), '10 models; page 1 of 1.');
  await checkPage(t, page, 'org-models-search');
  await page.getByLabel('Search by name').fill('slab');
  await page.getByLabel('Sort by').selectOption('name');
  await page.getByRole('button', { name: 'Show' }).click();
  t.is(await page.locator('#model-count').innerText(), '5000 models; page 1 of 100.');

  // Delete one model after the confirmation page says what will happen, then restore it.
  await page.getByLabel('Search by name').fill('Model 04242');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.getByRole('link', { name: 'Delete Model 04242 Slab' }).click();
  await checkPage(t, page, 'confirm-delete-model');
  t.regex(await page.locator('main').innerText(), /Delete the model Model 04242 Slab\. Its 1 member lose access at once/);
  t.is(world.server.services.sharing.routeDeps.repo.get('m_bulk004242')!.deletedAt, null, 'the confirmation page changes nothing');
  await page.getByRole('button', { name: 'Delete model' }).click();
  t.truthy(world.server.services.sharing.routeDeps.repo.get('m_bulk004242')!.deletedAt);
  t.is(await page.locator('#model-count').innerText(), '9999 models; page 1 of 200.');
  await page.goto(`${base}/${world.firm}/models?deleted=1`);
  await checkPage(t, page, 'org-deleted-models');
  await page.getByRole('button', { name: 'Restore Model 04242 Slab' }).click();
  t.is(world.server.services.sharing.routeDeps.repo.get('m_bulk004242')!.deletedAt, null);

  // Audit log: filter, then export what the filter shows.
  await page.goto(`${base}/${world.firm}/audit`);
  await checkPage(t, page, 'org-audit');
  await page.getByLabel('Action starts with').fill('model.');
  await page.getByRole('button', { name: 'Filter' }).click();
  const shown = await page.locator('tbody tr td:nth-child(2)').allInnerTexts();
  t.deepEqual([...new Set(shown)].sort(), ['model.delete', 'model.restore']);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Export these events/ }).click()]);
  const csv = fs.readFileSync((await download.path())!, 'utf8');
  const lines = csv.trim().split('\r\n');
  t.is(lines[0], 'id,at,action,outcome,actor_id,actor_email,target_type,target_id,reason,source,details,personal_data', 'the admin API\'s export');
  t.is(lines.length, 3, csv);
  t.true(lines.slice(1).every((l) => /,model\.(delete|restore),/.test(l) && l.includes(',ada@firm.example,')), csv);

  // Tokens: created and shown once, works on the API, then revoked after a confirmation.
  await page.getByRole('link', { name: 'Access tokens' }).click();
  await page.getByLabel('Name').fill('nightly export');
  await page.getByLabel('write').check();
  await page.getByRole('button', { name: 'Create token' }).click();
  await checkPage(t, page, 'token-created');
  const token = await page.locator('#new-token').innerText();
  t.is((await world.call('GET', '/api/v1/me', token)).status, 200);
  await page.getByRole('link', { name: 'Back to your tokens' }).click();
  await checkPage(t, page, 'tokens');
  await page.getByRole('link', { name: 'Revoke nightly export' }).click();
  await checkPage(t, page, 'confirm-revoke-token');
  t.is((await world.call('GET', '/api/v1/me', token)).status, 200, 'the confirmation page changes nothing');
  await page.getByRole('button', { name: 'Revoke token' }).click();
  t.is((await world.call('GET', '/api/v1/me', token)).status, 401);

  // The person's own pages.
  await page.getByRole('link', { name: 'Sign-ins' }).click();
  await checkPage(t, page, 'sign-ins');
  await page.getByRole('link', { name: 'Profile' }).click();
  await page.getByLabel('Job title').fill('Structural lead');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await checkPage(t, page, 'profile');
  t.is(await page.getByLabel('Job title').inputValue(), 'Structural lead');
  const [exported] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: /Download everything/ }).click()]);
  t.true(fs.readFileSync((await exported.path())!, 'utf8').includes('Structural lead'));
  t.deepEqual(cspViolations, []);
});

test('a member gets no admin page, another organization’s admin sees none of this organization, a server admin runs the server', async (t) => {
  t.timeout(240_000);
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  insertModels(world, world.firm, bob.id, 30);
  const browser = await launchChromium(t, world);

  const member = await signedInPage(world, browser, people.bob);
  t.is(await member.page.getByRole('link', { name: 'Firm Engineering' }).count(), 0, 'no admin link for a member');
  for (const path of ['', '/models', '/audit', '/audit/export']) {
    const res = await member.page.goto(`${base}/${world.firm}${path}`);
    t.is(res!.status(), 403, path);
  }
  t.regex(await member.page.locator('main').innerText(), /What to do next/);
  await checkPage(t, member.page, 'error-forbidden');

  const rival = await signedInPage(world, browser, people.rita);
  for (const path of ['', '/models', '/audit', '/audit/export', '/models/m_bulk000001/delete']) {
    const res = await rival.page.goto(`${base}/${world.firm}${path}`);
    t.is(res!.status(), 404, path);
    t.notRegex(await rival.page.content(), /Model 000|Bob Builder|bob@firm/);
  }
  await checkPage(t, rival.page, 'error-not-found');
  // Her own organization's pages show nothing of Firm's.
  await rival.page.goto(`${base}/${world.rival}/models`);
  t.is(await rival.page.locator('#model-count').innerText(), '0 models; page 1 of 1.');
  await rival.page.goto(`${base}/${world.rival}/audit`);
  t.notRegex(await rival.page.locator('main').innerText(), /bob@firm|m_bulk|ada@firm/);
  await rival.page.goto(`${base}/${world.rival}`);
  t.notRegex(await rival.page.locator('main').innerText(), /Bob Builder|Ada/);
  // A delete posted by hand to another organization's model is refused and deletes nothing.
  const csrf = await rival.page.locator('input[name="_csrf"]').first().inputValue();
  // Server pages are for server admins only: an organization admin gets none.
  t.is((await rival.page.goto(`${publicUrl}/console/admin`))!.status(), 403);
  t.is(await rival.page.getByRole('link', { name: 'Server', exact: true }).count(), 0);

  // A server admin sees organizations with their seats, the certificate, and runs a job now.
  const root = await signedInPage(world, browser, people.root);
  await root.page.getByRole('link', { name: 'Server', exact: true }).click();
  await checkPage(t, root.page, 'server');
  const server = await root.page.locator('main').innerText();
  t.regex(server, /Firm Engineering\s+firm\.example\s+\d+ of 10/);
  t.true(server.includes(world.server.tls!.authority!.fingerprint), 'the CA fingerprint is shown');
  await root.page.getByRole('link', { name: 'Run invitation-retention now' }).click();
  await checkPage(t, root.page, 'confirm-run-job');
  t.deepEqual(world.server.jobs.runner.lastRuns('invitation-retention', 1), [], 'the confirmation page runs nothing');
  await root.page.getByRole('button', { name: 'Run invitation-retention' }).click();
  await eventually(() => world.server.jobs.runner.lastRuns('invitation-retention', 1)[0]?.outcome === 'ok', 'the job ran');
  await root.page.reload();
  t.regex(await root.page.locator('tr', { hasText: 'invitation-retention' }).innerText(), /\bok\b.*deleted 0 old invitations/s);
  await root.page.getByRole('link', { name: 'People' }).click();
  await checkPage(t, root.page, 'server-people');
  t.regex(await root.page.locator('main').innerText(), /bob@firm\.example[\s\S]*Firm Engineering \(member\)/);

  const posted = await inBrowser(rival.page, `/console/organizations/${world.rival}/models/m_bulk000001/delete`, `_csrf=${encodeURIComponent(csrf)}`);
  t.is(posted.status, 404);
  t.is(world.server.services.sharing.routeDeps.repo.get('m_bulk000001')!.deletedAt, null);
});

test('an organization admin invites a partner, blocks an address and changes a model’s owner', async (t) => {
  t.timeout(240_000);
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  insertModels(world, world.firm, bob.id, 3);
  const browser = await launchChromium(t, world);
  const { page, cspViolations } = await signedInPage(world, browser, people.ada);
  const invitations = () => world.server.services.orgs.invitations.pendingOf(world.server.services.orgs.repo.get(world.firm)!);

  await page.goto(`${base}/${world.firm}/partners`);
  await page.getByLabel("Partner's e-mail address").fill('carla@partner.example');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await checkPage(t, page, 'org-partners');
  t.deepEqual(invitations().map((i) => i.email), ['carla@partner.example']);
  await page.getByRole('button', { name: 'Withdraw invitation to carla@partner.example' }).click();
  t.deepEqual(invitations(), []);

  await page.getByRole('link', { name: 'Blocked' }).click();
  await page.getByLabel('Address or domain').fill('mallory@firm.example');
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  await checkPage(t, page, 'org-blocked');
  t.not(world.gate(bob.id, world.firm), 'blocked');
  t.is(world.server.services.orgs.blocks.list(world.firm).length, 1);
  await page.getByRole('link', { name: 'Lift the block on mallory@firm.example' }).click();
  await checkPage(t, page, 'confirm-lift-block');
  t.is(world.server.services.orgs.blocks.list(world.firm).length, 1, 'the confirmation page changes nothing');
  await page.getByRole('button', { name: 'Lift block' }).click();
  t.is(world.server.services.orgs.blocks.list(world.firm).length, 0);

  const ada = world.server.services.identity.people.findByEmail('ada@firm.example')!;
  await page.goto(`${base}/${world.firm}/models`);
  await page.getByRole('link', { name: 'Change owner of Model 00002 Slab' }).click();
  await checkPage(t, page, 'change-owner');
  await page.getByLabel('New owner').selectOption(ada.id);
  await page.getByRole('button', { name: 'Change owner' }).click();
  const model = world.server.services.sharing.routeDeps.repo.get('m_bulk000002')!;
  t.is(model.ownerId, ada.id);
  t.is(world.server.services.sharing.routeDeps.repo.role(model.id, bob.id), 'admin');
  t.deepEqual(cspViolations, []);
});
