/**
 * Headless Debian Chromium for tests that must drive real HTML pages
 * (sign-in, consent, device code entry). Each `launchBrowser()` gets a fresh
 * temporary profile, removed again by `close()`.
 *
 * Page conventions the helpers rely on (the sandbox pages follow them):
 * sign-in form fields `input[name=email]` / `input[name=password]`, buttons
 * marked `data-action="sign-in" | "approve" | "deny" | "continue" |
 * "confirm" | "abort"`, device code field `input[name=user_code]`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export const CHROMIUM_HELP = 'install the Debian package chromium (apt-get install chromium; .ci/run installs it)';

/** Why Chromium cannot be launched, or undefined when it can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `no Chromium at ${CHROMIUM_PATH}`;
}

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A fresh headless Chromium; without one at CHROMIUM_PATH the calling suite fails, saying how to get it (in CI and elsewhere). */
export async function launchBrowser(): Promise<TestBrowser> {
  const missing = chromiumMissing();
  if (missing) throw new Error(`${missing}: these tests drive the real sign-in, consent and device pages in it. To get it, ${CHROMIUM_HELP}.`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'agentprov-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  context.setDefaultTimeout(10_000);
  return {
    context,
    newPage: async () => {
      const page = await context.newPage();
      // Closing a page is cleanup, never under test. Chromium under load sometimes
      // never acknowledges a close after a redirect to a loopback callback, which
      // used to hang whole tests; give it 5 s, then let the context close it.
      const close = page.close.bind(page);
      page.close = (options) =>
        Promise.race([close(options), new Promise<void>((r) => setTimeout(r, 5_000).unref())]).catch(() => undefined);
      return page;
    },
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Fills and submits the sign-in form on the current page. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('[data-action="sign-in"]');
}

/** Clicks Approve on a consent page. */
export async function approveConsent(page: Page): Promise<void> {
  await page.click('[data-action="approve"]');
}

/** Clicks Deny on a consent page. */
export async function denyConsent(page: Page): Promise<void> {
  await page.click('[data-action="deny"]');
}

/** Opens the device verification page, enters `userCode` and confirms it on the next page. */
export async function enterDeviceCode(page: Page, verificationUri: string, userCode: string): Promise<void> {
  await page.goto(verificationUri);
  await page.fill('input[name=user_code]', userCode);
  await page.click('[data-action="continue"]');
  await page.click('[data-action="confirm"]');
}

/**
 * The whole device flow in the browser: code entry, confirmation, sign-in
 * (when the browser has no session yet) and consent, approved or denied.
 * With `acceptTerms`, a provider's terms box is ticked when the consent page
 * shows one (it does when the user has no account there yet).
 */
export async function completeDeviceFlow(
  page: Page,
  opts: { verificationUri: string; userCode: string; email: string; password: string; decision: 'approve' | 'deny'; acceptTerms?: boolean },
): Promise<void> {
  await enterDeviceCode(page, opts.verificationUri, opts.userCode);
  const next = await page.waitForSelector('input[name=password], [data-action="approve"]');
  if ((await next.getAttribute('name')) === 'password') await signIn(page, opts.email, opts.password);
  if (opts.acceptTerms) {
    await page.waitForSelector('[data-action="approve"]');
    const terms = await page.$('input[name=accept_terms]');
    if (terms) await terms.check();
  }
  // Wait for the page the decision leads to: waitForLoadState alone resolves at
  // once on the already-loaded consent page, and a caller closing the page then
  // cancels the redirects that carry the decision back to the server.
  const decided = page.waitForURL((url) => !url.pathname.includes('/interaction/'));
  if (opts.decision === 'approve') await approveConsent(page);
  else await denyConsent(page);
  await decided;
}
