/** The protocol client's memory of a provider's authorization server metadata (src/providers/agentprov/discovery-cache.ts). */
import { describe, expect, it } from 'vitest';
import { cachedServer, metadataTtl } from '../../../../src/providers/agentprov/discovery-cache.js';

describe('remembered authorization server metadata, unit', () => {
  const entry = (server: Record<string, unknown>, expiresAt: number) => ({
    v: 1 as const,
    provider_id: 'localcloud',
    descriptor_url: 'https://p.example/.well-known/agent-provisioning',
    resource: 'https://p.example',
    resource_metadata: 'https://p.example/.well-known/oauth-protected-resource',
    issuer: 'https://p.example/oauth',
    updated_at: 0,
    server: { issuer: 'https://p.example/oauth', ...server },
    server_expires_at: expiresAt,
  });

  it('is reused for its Cache-Control max-age, never with no-store or no-cache, 10 minutes when the answer says nothing', () => {
    expect(metadataTtl(null)).toBe(600);
    expect(metadataTtl('public')).toBe(600);
    expect(metadataTtl('max-age=60')).toBe(60);
    expect(metadataTtl('public, max-age=999999999')).toBe(24 * 3600);
    expect(metadataTtl('no-store')).toBe(0);
    expect(metadataTtl('max-age=600, no-cache')).toBe(0);
    expect(metadataTtl('max-age=600', '540')).toBe(60); // a cache on the way already spent 540 s of it
    expect(metadataTtl('max-age=600', '9999')).toBe(0);
  });

  it("is used only while fresh, for the issuer of the vault's grant, and with every endpoint on that issuer's origin", () => {
    const issuer = 'https://p.example/oauth';
    const good = entry({ token_endpoint: 'https://p.example/oauth/token', revocation_endpoint: 'https://p.example/oauth/revoke' }, 1000);
    expect(cachedServer(good, 999, issuer)?.token_endpoint).toBe('https://p.example/oauth/token');
    expect(cachedServer(good, 1000, issuer)).toBeUndefined(); // expired
    expect(cachedServer(good, 999 - 25 * 3600, issuer)).toBeUndefined(); // expiry further ahead than any max-age allows
    expect(cachedServer(good, 999, 'https://other.example/oauth')).toBeUndefined(); // the grant came from another issuer
    // A forged file cannot send tokens anywhere but the issuer's own origin.
    expect(cachedServer(entry({ token_endpoint: 'https://attacker.example/token' }, 1000), 999, issuer)).toBeUndefined();
    expect(cachedServer(entry({ revocation_endpoint: 'http://p.example/oauth/revoke' }, 1000), 999, issuer)).toBeUndefined();
    expect(cachedServer(entry({ token_endpoint: 'not a url' }, 1000), 999, issuer)).toBeUndefined();
    const loopback = { ...entry({ token_endpoint: 'http://127.0.0.1:5001/oauth/token' }, 1000), issuer: 'http://127.0.0.1:5001/oauth' };
    loopback.server.issuer = 'http://127.0.0.1:5001/oauth';
    expect(cachedServer(loopback, 999, 'http://127.0.0.1:5001/oauth')?.token_endpoint).toBe('http://127.0.0.1:5001/oauth/token');
  });
});
