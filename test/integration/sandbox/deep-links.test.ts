/**
 * The sandbox console's single-use sign-in links (src/sandbox/shared/
 * deep-links.ts) on a real loopback server with a clock the test moves:
 * the first use signs in and redirects to the console page, a second use
 * and a use after the 10 minutes are refused with 410, a page without the
 * session with 401. The CLI's side is test/e2e/open.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DEEP_LINK_TTL_MS, DeepLinks, loggablePath } from '../../../src/sandbox/shared/deep-links.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

async function serve(links: DeepLinks, exists = () => true): Promise<string> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (!links.handle(req, res, path, (s) => (exists() ? { title: 'the resource', facts: [['service', `svc-of-${s.resource}`]] } : undefined))) {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

const get = (url: string, cookie?: string) => fetch(url, { redirect: 'manual', ...(cookie ? { headers: { cookie } } : {}) });

describe('sandbox deep links', () => {
  it('work once: the first use sets a console session and redirects; the second is 410', async () => {
    const now = 1_000_000;
    const links = new DeepLinks('/console/', 'TestCloud', () => now);
    const origin = await serve(links);
    const link = links.issue(origin, { account: 'acct_1', resource: 'prv_1' });
    expect(link.expiresAt.getTime()).toBe(now + DEEP_LINK_TTL_MS);
    const first = await get(link.url);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/console/acct_1/prv_1');
    expect(first.headers.get('referrer-policy')).toBe('no-referrer');
    const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
    const page = await get(`${origin}/console/acct_1/prv_1`, cookie);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<strong id="account">acct_1</strong>');
    expect(html).toContain('svc-of-prv_1');
    // The session is for that account's resource only; no session, no page.
    expect((await get(`${origin}/console/acct_2/prv_1`, cookie)).status).toBe(401);
    expect((await get(`${origin}/console/acct_1/prv_1`)).status).toBe(401);
    const again = await get(link.url);
    expect(again.status).toBe(410);
    expect(await again.text()).toMatch(/used already/);
  });

  it('expire after 10 minutes (410), and an unknown token is 404', async () => {
    let now = 5_000_000;
    const links = new DeepLinks('/console/', 'TestCloud', () => now);
    const origin = await serve(links);
    const link = links.issue(origin, { account: 'acct_1', resource: 'prv_1' });
    now += DEEP_LINK_TTL_MS;
    const late = await get(link.url);
    expect(late.status).toBe(410);
    expect(await late.text()).toMatch(/expired/);
    expect((await get(`${origin}/console/signin/dl_${'A'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(link.url, { method: 'POST' })).status).toBe(405);
  });

  it('a resource gone since the link was issued shows no console', async () => {
    let exists = true;
    const links = new DeepLinks('/console/', 'TestCloud');
    const origin = await serve(links, () => exists);
    const link = links.issue(origin, { account: 'a', resource: 'r' });
    const cookie = (await get(link.url)).headers.get('set-cookie')!.split(';')[0]!;
    exists = false;
    expect((await get(`${origin}/console/a/r`, cookie)).status).toBe(404);
  });
});

describe('loggablePath', () => {
  it('keeps a sign-in token out of log lines', () => {
    expect(loggablePath('/console/signin/dl_SECRETSECRETSECRETSECRET')).toBe('/console/signin/…');
    expect(loggablePath('/v1/provisions/prv_1/deep_link')).toBe('/v1/provisions/prv_1/deep_link');
  });
});
