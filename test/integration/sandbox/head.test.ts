/**
 * RFC 9110 §9.3.2: the sandbox provider answers HEAD wherever it answers
 * GET, with the GET's status and headers and no content; a 405 lists HEAD
 * in `Allow` beside GET.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localcloudCatalog, startProvider, type StartedProvider } from '../../../src/sandbox/provider/index.js';

describe('sandbox provider: HEAD wherever GET', () => {
  let p: StartedProvider;
  beforeAll(async () => {
    p = await startProvider({ id: 'localcloud', name: 'LocalCloud', issuer: null, rail: { url: 'http://127.0.0.1:9', clientSecret: 'x' }, catalog: localcloudCatalog });
  });
  afterAll(async () => {
    await p?.stop();
  });

  it('HEAD gets the GET status and headers without a body: descriptor, catalog, RFC 9728 and RFC 8414 metadata, terms', async () => {
    for (const path of ['/.well-known/agent-provisioning', '/catalog', '/.well-known/oauth-protected-resource', '/.well-known/oauth-authorization-server/oauth', '/terms']) {
      const get = await request(`${p.url}${path}`);
      const getBody = await get.body.text();
      const head = await request(`${p.url}${path}`, { method: 'HEAD' });
      const headBody = await head.body.text();
      expect(get.statusCode, path).toBe(200);
      expect(head.statusCode, path).toBe(200);
      expect(headBody, path).toBe('');
      expect(getBody.length, path).toBeGreaterThan(0);
      expect(head.headers['content-type'], path).toBe(get.headers['content-type']);
      if (path === '/catalog') expect(head.headers.etag).toBe(get.headers.etag);
    }
  });

  it('a method the route does not take is 405 with HEAD listed beside GET', async () => {
    const res = await request(`${p.url}/catalog`, { method: 'PUT', body: '{}' });
    await res.body.text();
    expect(res.statusCode).toBe(405);
    expect(String(res.headers.allow).split(/,\s*/)).toEqual(['GET', 'HEAD']);
  });
});
