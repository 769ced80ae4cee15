/**
 * Model administration in the console (issue 22), in a real browser signed in through the real test
 * provider: a model's owner locks it with a reason and a lock owner (the API refuses everyone else's
 * write-out with 423 and the reason, reads go on), unlocks it, rolls it back to a packet, downloads a
 * packet of the closed branch and restores the branch, and imports the model's members from CSV
 * after a dry run. An organization admin exports, edits and imports the organization's members
 * (dry run first, refusals with reasons, formula cells neutralised), and follows the notices to the
 * owner transfer of a model whose owner left at the provider. axe on every page.
 */
import fs from 'node:fs';
import test from 'ava';
import type { Page } from 'playwright-core';
import { checkPage, launchChromium, signedInPage } from '../helpers/chromium.ts';
import { orgWorld, people, type OrgWorld } from '../helpers/orgs.ts';
import { digestHeader } from '../helpers/people.ts';
import { publicUrl } from '../helpers/sign-in.ts';

const dave = { sub: 'dave', email: 'dave@firm.example', email_verified: true, name: 'Dave Draughtsman' };

/** Raw bytes to the API as `token` (baselines and packets). */
async function upload(world: OrgWorld, path: string, token: string, bytes: Buffer) {
  const res = await world.server.fetch(`${world.server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', 'content-digest': digestHeader(bytes) }, body: bytes });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function download(page: Page, link: string | RegExp): Promise<Buffer> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: link }).click()]);
  return fs.readFileSync((await file.path())!);
}

async function uploadCsv(page: Page, text: string): Promise<void> {
  await page.getByLabel(/CSV file/).setInputFiles({ name: 'members.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });
  await page.getByRole('button', { name: 'Dry run: show what would change' }).click();
}

/** The plan table's rows as text, one string a row. */
const planRows = (page: Page) => page.locator('#import-plan tbody tr').allInnerTexts();

test("a model's owner locks, unlocks, rolls back, downloads from the closed branch, restores it and imports members", async (t) => {
  t.timeout(300_000);
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  const dv = await world.login(dave);
  const created = await world.call('POST', '/api/v1/models', bob.token, { name: 'Tower T1' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const m = `/api/v1/models/${modelId}`;
  const invited = await world.call('POST', `${m}/invitations`, bob.token, { email: dave.email, role: 'editor' });
  t.is((await world.call('POST', `/api/v1/invitations/${invited.body['id']}/accept`, dv.token)).status, 200);
  t.is((await upload(world, `${m}/baselines?seq=0`, bob.token, Buffer.from('baseline 0'))).status, 201);
  const packets = [1, 2, 3].map((i) => Buffer.from(`packet ${i} `.repeat(50 * i)));
  for (const [i, p] of packets.entries()) t.is((await upload(world, `${m}/packets?base=${i}`, bob.token, p)).status, 201);

  const browser = await launchChromium(t, world);
  const { page, cspViolations } = await signedInPage(world, browser, people.bob);
  await page.getByRole('link', { name: 'Administer Tower T1' }).click();
  await checkPage(t, page, 'model-admin');

  // Lock with a reason and Dave as the lock owner: Bob's write-out gets 423 with the reason, Dave's goes through, reads go on.
  await page.getByLabel(/^Reason/).fill('Checking the loads');
  await page.getByLabel(/^Lock owner/).selectOption({ label: 'Dave Draughtsman (editor)' });
  await page.getByRole('button', { name: 'Lock the model' }).click();
  await checkPage(t, page, 'model-locked');
  t.regex(await page.locator('#lock-state').innerText(), /by Bob Builder: Checking the loads[\s\S]*Lock owner: Dave Draughtsman/);
  const refused = await upload(world, `${m}/packets?base=3`, bob.token, Buffer.from('refused'));
  t.like(refused, { status: 423, body: { code: 'model_locked', reason: 'Checking the loads', locked_by: bob.id, lock_owner_id: dv.id } });
  t.is((await world.call('GET', `${m}/packets?after=0`, bob.token)).status, 200, 'reads go on');
  const p4 = Buffer.from('packet 4 by the lock owner');
  t.is((await upload(world, `${m}/packets?base=3`, dv.token, p4)).status, 201);
  await page.getByRole('link', { name: 'My models' }).click();
  t.regex(await page.locator('tbody tr', { hasText: 'Tower T1' }).innerText(), /locked: Checking the loads/);
  await page.getByRole('link', { name: 'Administer Tower T1' }).click();
  await page.getByRole('link', { name: 'Unlock Tower T1' }).click();
  await checkPage(t, page, 'confirm-unlock');
  t.truthy(world.server.services.sharing.locks.get(modelId), 'the confirmation page changes nothing');
  await page.getByRole('button', { name: 'Unlock model' }).click();
  t.is(world.server.services.sharing.locks.get(modelId), undefined);
  t.regex(await page.locator('#lock-state').innerText(), /not locked/);

  // Roll back to packet 2: packets 3 and 4 stay on a closed branch, downloadable, and the branch comes back.
  await page.getByRole('link', { name: 'Roll back to packet 2' }).click();
  await checkPage(t, page, 'confirm-rollback');
  t.is(world.server.services.sharing.routeDeps.repo.get(modelId)!.head, 4, 'the confirmation page changes nothing');
  await page.getByRole('button', { name: 'Roll back' }).click();
  const afterRollback = world.server.services.sharing.routeDeps.repo.get(modelId)!.head;
  t.true(afterRollback > 4, 'sequence numbers move on');
  const rolledBack = await upload(world, `${m}/packets?base=4`, dv.token, Buffer.from('stale'));
  t.like(rolledBack, { status: 409, body: { code: 'rolled_back', rolled_back_to: 2 } });
  await page.getByRole('link', { name: 'Packets 3 to 4, left by the rollback to 2' }).click();
  await checkPage(t, page, 'branch');
  t.deepEqual((await page.locator('tbody tr td:first-child').allInnerTexts()), ['3', '4']);
  t.deepEqual(await download(page, 'Download packet 3'), packets[2]);
  t.deepEqual(await download(page, 'Download packet 4'), p4);
  await page.getByRole('link', { name: 'Restore this branch' }).click();
  await checkPage(t, page, 'confirm-restore-branch');
  await page.getByRole('button', { name: 'Restore branch' }).click();
  const branches = world.server.services.sharing.rollbacks.branches.list(modelId);
  t.is(branches.length, 2, 'the line left by the restore is a closed branch too');
  t.truthy(branches.find((b) => b.tip === 4)!.restoredAt);
  t.true(world.server.services.sharing.routeDeps.repo.get(modelId)!.head > afterRollback);
  t.regex(await page.locator('#branches').innerText(), /restored/);

  // The model's members in CSV: export, edit (Dave to viewer, invite Erin, a row above nobody), dry run, apply.
  await page.getByRole('link', { name: 'Members of Tower T1 in CSV (export, import)' }).click();
  await checkPage(t, page, 'model-csv');
  const exported = (await download(page, 'Download the members of Tower T1 (CSV)')).toString('utf8');
  t.is(exported, 'name,email,role\r\nBob Builder,bob@firm.example,owner\r\nDave Draughtsman,dave@firm.example,editor\r\n');
  await uploadCsv(page, exported.replace('dave@firm.example,editor', 'dave@firm.example,viewer') + 'Erin,erin@firm.example,editor\r\nMallet,mallet@firm.example,owner\r\n');
  await checkPage(t, page, 'model-import-dry-run');
  t.is(world.server.services.sharing.routeDeps.repo.role(modelId, dv.id), 'editor', 'a dry run changes nothing');
  const rows = await planRows(page);
  t.is(rows.length, 4);
  t.regex(rows[0]!, /bob@firm\.example.*unchanged/s);
  t.regex(rows[1]!, /dave@firm\.example\s+update\s+role: editor → viewer\s+planned/);
  t.regex(rows[2]!, /erin@firm\.example\s+invite\s+invitation: — → editor\s+planned/);
  t.regex(rows[3]!, /mallet@firm\.example.*refused\s+role_above_own: nobody is invited as owner/s);
  await page.getByRole('button', { name: 'Apply 2 change(s)' }).click();
  await checkPage(t, page, 'model-import-applied');
  t.regex(await page.locator('#import-summary').innerText(), /4 row\(s\): 2 changed, 1 unchanged, 1 refused/);
  t.is(world.server.services.sharing.routeDeps.repo.role(modelId, dv.id), 'viewer');
  const pending = await world.call('GET', `${m}/invitations`, bob.token);
  t.deepEqual((pending.body['invitations'] as { email: string; role: string }[]).map((i) => [i.email, i.role]), [['erin@firm.example', 'editor']]);
  t.deepEqual(cspViolations, []);
});

test('an organization admin round-trips the member list in CSV and follows the notices to an owner transfer', async (t) => {
  t.timeout(300_000);
  const world = await orgWorld(t);
  const bob = await world.login(people.bob);
  await world.login({ sub: 'eve', email: 'eve@firm.example', email_verified: true, name: '=HYPERLINK("http://evil.example")' });
  const dv = await world.login(dave);
  const created = await world.call('POST', '/api/v1/models', dv.token, { name: 'Tower T2' });
  t.is(created.status, 201, JSON.stringify(created.body));
  const modelId = String(created.body['id']);
  const browser = await launchChromium(t, world);
  const { page, cspViolations } = await signedInPage(world, browser, people.ada);
  const base = `${publicUrl}/console/organizations/${world.firm}`;
  const orgs = world.server.services.orgs;

  await page.goto(base);
  await page.getByRole('link', { name: 'CSV' }).click();
  await checkPage(t, page, 'org-csv');
  const exported = (await download(page, /Download the members and partners/)).toString('utf8');
  t.true(exported.includes(`"'=HYPERLINK(""http://evil.example"")",eve@firm.example,member`), 'a formula cell is neutralised');
  t.regex(exported, /^name,email,role,seat,sharing\r\n/);

  // Edit: Bob becomes a partner with sharing off; a new partner; a blocked address; a bad role.
  await page.getByRole('link', { name: 'Blocked' }).click();
  await page.getByLabel('Address or domain').fill('mallory@partner.example');
  await page.getByRole('button', { name: 'Block', exact: true }).click();
  const edited = exported.replace('bob@firm.example,member,yes,yes', 'bob@firm.example,partner,no,no')
    + 'Pat,pat@partner.example,partner,,\r\nMallory,mallory@partner.example,partner,,\r\nZed,zed@firm.example,king,,\r\n';
  await page.getByRole('link', { name: 'CSV' }).click();
  await uploadCsv(page, edited);
  await checkPage(t, page, 'org-import-dry-run');
  t.is(orgs.repo.membership(world.firm, bob.id)!.role, 'member', 'a dry run changes nothing');
  const rows = await planRows(page);
  t.regex(rows.find((r) => r.includes('bob@'))!, /update\s+role: member → partner\s*sharing: yes → no\s+planned/);
  t.regex(rows.find((r) => r.includes('pat@'))!, /invite.*planned/s);
  t.regex(rows.find((r) => r.includes('mallory@'))!, /refused\s+blocked: the organization blocks this address/);
  t.regex(rows.find((r) => r.includes('zed@'))!, /refused\s+invalid_role: role must be admin, member or partner/);
  t.regex(rows.find((r) => r.includes('eve@'))!, /unchanged/, 'the neutralised name is no change');

  // A file that is not UTF-8 text is refused with a page that says so, and plans nothing.
  const latin1 = await page.evaluate(async ({ path, csrf }) => {
    const form = new FormData();
    form.set('_csrf', csrf);
    form.set('file', new Blob([new Uint8Array([0x65, 0x6d, 0x61, 0x69, 0x6c, 0x0a, 0xe9, 0x40, 0x78, 0x2e, 0x63, 0x68])], { type: 'text/csv' }), 'latin1.csv');
    const res = await fetch(path, { method: 'POST', body: form });
    return { status: res.status, text: await res.text() };
  }, { path: `/console/organizations/${world.firm}/members/import`, csrf: await page.locator('input[name="_csrf"]').first().inputValue() });
  t.is(latin1.status, 400);
  t.regex(latin1.text, /not UTF-8 text/);

  // Something changes between the dry run and the apply: nothing is applied, the new plan is shown.
  orgs.repo.setRole(world.firm, bob.id, 'admin', 'admin');
  await page.getByRole('button', { name: 'Apply 2 change(s)' }).click();
  t.regex(await page.locator('main').innerText(), /Something changed since your dry run, so nothing was applied/);
  t.is(orgs.repo.membership(world.firm, bob.id)!.sharingEnabled, true);
  t.is(orgs.invitations.pendingOf(orgs.repo.get(world.firm)!).length, 0);
  await page.getByRole('button', { name: 'Apply 2 change(s)' }).click();
  await checkPage(t, page, 'org-import-applied');
  t.like(orgs.repo.membership(world.firm, bob.id), { role: 'partner', sharingEnabled: false });
  t.deepEqual(orgs.invitations.pendingOf(orgs.repo.get(world.firm)!).map((i) => i.email), ['pat@partner.example']);

  // An organization admin who is no member of Dave's model locks it from the organization's models; it shows as locked.
  await page.goto(`${base}/models`);
  await page.getByRole('link', { name: 'Administer Tower T2' }).click();
  await checkPage(t, page, 'model-admin-org-admin');
  t.is(await page.getByRole('link', { name: /Members of Tower T2 in CSV/ }).count(), 0, 'the member list is for the model\'s admins');
  await page.getByLabel(/^Reason/).fill('Owner on leave');
  await page.getByRole('button', { name: 'Lock the model' }).click();
  t.like(world.server.services.sharing.locks.get(modelId), { reason: 'Owner on leave', lockOwnerId: null });
  await page.goto(`${base}/models`);
  t.regex(await page.locator('tbody tr', { hasText: 'Tower T2' }).innerText(), /Tower T2 locked/);

  // Dave leaves at the provider: the notices show him with his model, and offer the owner transfer.
  await page.getByRole('link', { name: 'Notices' }).click();
  t.is(await page.locator('li.person_left').count(), 0);
  await world.signInAgain({ ...dave, email: 'dave@elsewhere.example' });
  t.is(orgs.repo.membership(world.firm, dv.id), undefined, 'the provider no longer vouches for Dave as an employee');
  await page.reload();
  await checkPage(t, page, 'org-notices');
  t.regex(await page.locator('li.person_left').innerText(), /Dave Draughtsman.*Models they own: Tower T2/s);
  await page.getByRole('link', { name: 'Transfer Tower T2 to a new owner' }).click();
  const ada = world.server.services.identity.people.findByEmail('ada@firm.example')!;
  await page.getByLabel('New owner').selectOption(ada.id);
  await page.getByRole('button', { name: 'Change owner' }).click();
  t.is(world.server.services.sharing.routeDeps.repo.get(modelId)!.ownerId, ada.id);
  await page.goto(`${base}/notices`);
  t.is(await page.locator('li.model_owner_gone').count(), 0, 'the transfer settles the notice');
  t.regex(await page.locator('li.model_locked').innerText(), /Locked: Tower T2 since .*: Owner on leave/);
  t.deepEqual(cspViolations, []);

  // A server admin's notices add the server's own: a failed backup.
  const at = world.clock.now().toISOString();
  world.server.stores.db.prepare("INSERT INTO job_runs (job, trigger, holder, started_at, ended_at, outcome, error) VALUES ('backup', 'schedule', 'test', ?, ?, 'failed', 'disk full')").run(at, at);
  const root = await signedInPage(world, browser, people.root);
  await root.page.getByRole('link', { name: 'Server', exact: true }).click();
  await root.page.getByRole('link', { name: 'Notices' }).click();
  await checkPage(t, root.page, 'server-notices');
  t.regex(await root.page.locator('li.backup_failed').innerText(), /Backup failed: job backup started .*: disk full/);
  t.regex(await root.page.locator('#notices').innerText(), /Left the organization \(Firm Engineering\): Dave Draughtsman/);
});
