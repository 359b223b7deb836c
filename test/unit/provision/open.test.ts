/**
 * What `open` accepts from a provider before showing or opening a link,
 * and Cloudflare's dashboard URL shapes. The whole command runs in
 * test/e2e/open.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { AgentprovError } from '../../../src/core/errors.js';
import { assertOpenableLink } from '../../../src/provision/open.js';
import { dashboardUrl } from '../../../src/providers/cloudflare/dashboard.js';

const link = (url: string) => ({ url, secret: true, singleUse: true, expiresAt: new Date() });

describe('assertOpenableLink', () => {
  it('accepts https anywhere and http on loopback only', () => {
    expect(() => assertOpenableLink('p', link('https://console.example/signin/dl_x'))).not.toThrow();
    expect(() => assertOpenableLink('p', link('http://127.0.0.1:5000/console/signin/dl_x'))).not.toThrow();
    expect(() => assertOpenableLink('p', link('http://localhost:5000/x'))).not.toThrow();
  });

  it('refuses plain http off loopback, user info, other schemes and non-URLs, never naming the link', () => {
    for (const url of ['http://console.example/CANARYLINK', 'https://user:pw@console.example/CANARYLINK', 'javascript:alert(1)//CANARYLINK', 'file:///CANARYLINK', 'not a url CANARYLINK']) {
      let caught: unknown;
      try {
        assertOpenableLink('p', link(url));
      } catch (err) {
        caught = err;
      }
      expect(caught, url).toBeInstanceOf(AgentprovError);
      const e = caught as AgentprovError;
      expect(e.code).toBe('INVALID_PROVIDER_RESPONSE');
      expect(JSON.stringify({ m: e.message, d: e.details, n: e.nextSteps })).not.toContain('CANARYLINK');
    }
  });
});

describe('Cloudflare dashboard URLs', () => {
  it('name the account and the resource, encoded', () => {
    expect(dashboardUrl('acc1', 'kv', 'ns1')).toBe('https://dash.cloudflare.com/acc1/workers/kv/namespaces/ns1');
    expect(dashboardUrl('acc1', 'r2', 'my-bucket')).toBe('https://dash.cloudflare.com/acc1/r2/default/buckets/my-bucket');
    expect(dashboardUrl('acc1', 'd1', 'uuid-1')).toBe('https://dash.cloudflare.com/acc1/workers/d1/databases/uuid-1');
    expect(dashboardUrl('acc1', 'worker', 'site')).toBe('https://dash.cloudflare.com/acc1/workers/services/view/site/production');
    expect(dashboardUrl('acc1', 'domain', 'example.com')).toBe('https://dash.cloudflare.com/acc1/domains/registrations');
    expect(dashboardUrl('acc/1', 'kv', 'a b')).toBe('https://dash.cloudflare.com/acc%2F1/workers/kv/namespaces/a%20b');
  });
});
