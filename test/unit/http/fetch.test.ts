/**
 * The one bounded HTTP client (src/http/fetch.ts), on real loopback
 * servers: a redirect is followed only within the same origin, so a
 * provider or rail answering 302 to another origin never makes agentprov
 * send anything there, with or without the user's access token.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher, freshFor } from '../../../src/http/fetch.js';

const SECRET = 'Bearer access-token-CANARY-0123456789';
let seen: Array<{ server: string; path: string; headers: IncomingHttpHeaders }> = [];
let a: Server;
let b: Server;
let urlA = '';
let urlB = '';

async function listen(name: string, redirectTo: () => string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    seen.push({ server: name, path: req.url ?? '', headers: req.headers });
    if (req.url?.startsWith('/hop')) {
      res.writeHead(302, { location: `${redirectTo()}${req.url.replace('/hop', '/done')}` }).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  ({ server: a, url: urlA } = await listen('a', () => urlB));
  ({ server: b, url: urlB } = await listen('b', () => urlA));
});
afterAll(async () => {
  await Promise.all([a, b].map((s) => new Promise((r) => s.close(r))));
});

describe('redirects and credentials', () => {
  const get = async (url: string) => {
    const fetcher = createFetcher({ headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
    try {
      return await fetcher.request(url, { headers: { authorization: SECRET, cookie: 'c=1' }, signal: AbortSignal.timeout(5000), maxBytes: 1024 });
    } finally {
      await fetcher.close();
    }
  };

  it('refuses a redirect to another origin before any request reaches it', async () => {
    seen = [];
    const err = await get(`${urlA}/hop/x`).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'FetchError', reason: 'redirect' });
    expect((err as Error).message).toMatch(/refusing redirect from http:\/\/127\.0\.0\.1:\d+ to another origin/);
    expect(seen.map((s) => `${s.server}${s.path}`)).toEqual(['a/hop/x']);
  });

  it('keeps them on a redirect within the same origin', async () => {
    seen = [];
    const same = await listen('c', () => '');
    try {
      const fetcher = createFetcher({ headersTimeoutMs: 5000, bodyTimeoutMs: 5000 });
      // The location is relative: same origin.
      const res = await fetcher.request(`${same.url}/hop/y`, { headers: { authorization: SECRET }, signal: AbortSignal.timeout(5000), maxBytes: 1024 });
      await fetcher.close();
      expect(res.status).toBe(200);
      expect(seen.map((s) => `${s.server}${s.path}`)).toEqual(['c/hop/y', 'c/done/y']);
      expect(seen[1]!.headers.authorization).toBe(SECRET);
    } finally {
      await new Promise((r) => same.server.close(r));
    }
  });
});

describe('freshness', () => {
  it("a response is fresh for its max-age less the Age a cache on the way spent; no max-age, or no-store, is not fresh", () => {
    expect(freshFor('max-age=60', undefined)).toBe(60);
    expect(freshFor('public, max-age=60', '20')).toBe(40);
    expect(freshFor('max-age=60', '600')).toBe(0);
    expect(freshFor('max-age=60', 'soon')).toBe(60); // an unreadable Age is ignored
    expect(freshFor(undefined, '5')).toBe(0);
    expect(freshFor('no-store, max-age=60', undefined)).toBe(0);
  });
});

describe('HEAD', () => {
  it('returns the status and headers with an empty body, whatever Content-Length the GET would have', async () => {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(10_000_000), etag: '"x"' });
      res.end(); // the GET's body never comes: its declared length alone is over the cap
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const fetcher = createFetcher({ headersTimeoutMs: 2000, bodyTimeoutMs: 2000 });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/catalog`;
      const res = await fetcher.request(url, { method: 'HEAD', signal: AbortSignal.timeout(2000), maxBytes: 1024 });
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(0);
      expect(res.headers.etag).toBe('"x"');
      await expect(fetcher.request(url, { method: 'GET', signal: AbortSignal.timeout(2000), maxBytes: 1024 })).rejects.toThrow(/exceeds/);
    } finally {
      await fetcher.close();
      await new Promise((r) => server.close(r));
    }
  });
});
