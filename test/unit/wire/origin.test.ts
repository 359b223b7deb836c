/**
 * The one-origin rule (src/wire/origin.ts): which descriptor URLs and
 * authorization servers a provider may name, including the https → loopback
 * and https → private-address cases no loopback server can stand in for.
 */
import { describe, expect, it } from 'vitest';
import { describeViolation, issuerAllowed, offOriginMember } from '../../../src/wire/origin.js';

const D = 'https://p.example/.well-known/agent-provisioning';
const ok = { catalog_url: 'https://p.example/catalog', provisioning_endpoint: 'https://p.example/v1/provisions', resource: 'https://p.example' };

describe('one origin per provider', () => {
  it('accepts a descriptor whose request URLs share its origin, whatever its terms_url', () => {
    expect(offOriginMember(D, { ...ok, authorization_server: 'https://p.example/oauth' })).toBeUndefined();
    expect(offOriginMember(D, { ...ok, terms_url: 'https://legal.example/terms' } as never)).toBeUndefined();
  });

  it('names the first field that leaves the origin: another host, port, scheme, a loopback or private address', () => {
    const cases: Array<[keyof typeof ok | 'authorization_server' | 'protected_resource_metadata', string, string]> = [
      ['catalog_url', 'http://127.0.0.1:8080/c', 'http://127.0.0.1:8080'],
      ['catalog_url', 'https://10.0.0.5/c', 'https://10.0.0.5'],
      ['provisioning_endpoint', 'https://p.example:8443/v1', 'https://p.example:8443'],
      ['resource', 'http://p.example', 'http://p.example'],
      ['protected_resource_metadata', 'https://169.254.169.254/x', 'https://169.254.169.254'],
      ['authorization_server', 'https://as.other.example', 'https://as.other.example'],
    ];
    for (const [field, url, origin] of cases) {
      const v = offOriginMember(D, { ...ok, [field]: url });
      expect(v).toEqual({ field, origin, expected: 'https://p.example' });
      expect(describeViolation(v!)).toBe(`its ${field} is on ${origin}, not on the descriptor's origin https://p.example (a provider's URLs must share one origin)`);
    }
    expect(offOriginMember(D, { ...ok, catalog_url: 'not a url' })?.origin).toBe('(not a URL)');
  });

  it('an authorization server elsewhere only when the orchestrator vouched for exactly that issuer', () => {
    const vouched = ['https://login.example/tenant-1'];
    expect(offOriginMember(D, { ...ok, authorization_server: 'https://login.example/tenant-1' }, vouched)).toBeUndefined();
    expect(issuerAllowed(D, 'https://login.example/tenant-1/', vouched)).toBe(true);
    expect(issuerAllowed(D, 'https://login.example/tenant-2', vouched)).toBe(false);
    expect(issuerAllowed(D, 'https://login.example/tenant-1', [])).toBe(false);
    expect(issuerAllowed(D, 'https://p.example/oauth')).toBe(true);
    // A vouch covers the authorization server only, never a catalog or endpoint there.
    expect(offOriginMember(D, { ...ok, catalog_url: 'https://login.example/tenant-1' }, vouched)?.field).toBe('catalog_url');
  });
});
