/**
 * A real browser for the console tests: Debian's headless Chromium driven by playwright-core. The
 * server's public_url (https://modelshare.test) resolves to the test server's loopback port, so the
 * browser signs in through the real test provider exactly as a person's browser would. Every page
 * can be checked with axe-core and saved as a screenshot under test-artifacts/.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { publicUrl, type SignInWorld } from './sign-in.ts';
import type { TestAccount } from './test-provider.ts';

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
export const artifacts = path.resolve('test-artifacts');

export async function launchChromium(t: ExecutionContext, world: SignInWorld): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--host-resolver-rules=MAP ${new URL(publicUrl).hostname}:443 127.0.0.1:${world.server.port}`,
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

/** A fresh browser profile signed in as `account` through the test provider; returns its page at /console. */
export async function signedInPage(world: SignInWorld, browser: Browser, account: TestAccount): Promise<{ context: BrowserContext; page: Page; cspViolations: string[] }> {
  // The server's and the provider's certificates come from test CAs the browser does not know.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  world.op.nextAccount = account;
  await page.goto(`${publicUrl}/console`);
  if (new URL(page.url()).pathname !== '/console') throw new Error(`sign-in ended at ${page.url()}: ${await page.content()}`);
  return { context, page, cspViolations };
}

/** Runs axe-core on the page; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern (as a browser extension would).
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return axe.run();
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** Checks the page with axe and saves its screenshot as test-artifacts/console-<name>.png. */
export async function checkPage(t: ExecutionContext, page: Page, name: string): Promise<void> {
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `console-${name}.png`), fullPage: true });
  t.deepEqual(await seriousViolations(page), [], `axe on ${name} (${page.url()})`);
}
