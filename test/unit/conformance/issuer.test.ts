/**
 * The checker's own orchestrator (src/conformance/issuer.ts): its JWKS on
 * loopback verifies the good assertion; each deliberately bad one fails the
 * check it is meant to fail (expiry, audience, signature, alg none), so a
 * provider refusing them is refusing for the named reason. Its CIMD is one
 * the sandbox APP provider accepts. Also the Stripe signing the APP suite
 * does matches the sandbox's verification.
 */
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCheckerIssuer, type CheckerIssuer } from '../../../src/conformance/issuer.js';
import { stripeSignature } from '../../../src/conformance/app/stripe.js';
import { asMetadataUrl, descriptorUrlOf } from '../../../src/conformance/agentprov/discovery.js';
import { verifyStripeSignature } from '../../../src/sandbox/app/stripe.js';
import { AppClientMetadata } from '../../../src/wire/app.js';

describe('the checker issuer', () => {
  let issuer: CheckerIssuer;
  const claims = { aud: 'http://127.0.0.1:1/oauth', client_id: 'agentprov-cli', resource: 'http://127.0.0.1:1', sub: 'check-user', email: 'check@example.com' };
  beforeAll(async () => {
    issuer = await startCheckerIssuer(0);
  });
  afterAll(async () => {
    await issuer?.stop();
  });
  const verify = async (jwt: string) => jwtVerify(jwt, createRemoteJWKSet(new URL(issuer.jwksUri)), { issuer: issuer.issuer, audience: claims.aud, typ: 'oauth-id-jag+jwt', algorithms: ['ES256'] });

  it('signs a good ID-JAG its JWKS verifies, with a fresh jti each time', async () => {
    const a = await issuer.assertion(claims);
    const b = await issuer.assertion(claims);
    const { payload } = await verify(a);
    expect(payload).toMatchObject({ iss: issuer.issuer, sub: 'check-user', aud: claims.aud, client_id: 'agentprov-cli', resource: claims.resource });
    expect((await verify(b)).payload.jti).not.toBe(payload.jti);
  });

  it('each flawed assertion fails for its own reason', async () => {
    await expect(verify(await issuer.assertion(claims, 'expired'))).rejects.toBeInstanceOf(errors.JWTExpired);
    await expect(verify(await issuer.assertion(claims, 'wrong_audience'))).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
    const wrongKey = await issuer.assertion(claims, 'wrong_key');
    expect(decodeProtectedHeader(wrongKey).kid).toBe(decodeProtectedHeader(await issuer.assertion(claims)).kid);
    await expect(verify(wrongKey)).rejects.toBeInstanceOf(errors.JWSSignatureVerificationFailed);
    const none = await issuer.assertion(claims, 'alg_none');
    expect(decodeProtectedHeader(none)).toEqual({ alg: 'none', typ: 'oauth-id-jag+jwt' });
    expect(none.endsWith('.')).toBe(true);
    await expect(verify(none)).rejects.toBeInstanceOf(errors.JOSEAlgNotAllowed);
  });

  it('serves a Client ID Metadata Document naming its own URL', async () => {
    const doc = AppClientMetadata.parse(await (await fetch(issuer.cimdUrl)).json());
    expect(doc.client_id).toBe(issuer.cimdUrl);
    expect(doc.redirect_uris).toEqual([issuer.redirectUri]);
  });
});

describe('pure helpers', () => {
  it('finds the descriptor and the RFC 8414 path-inserted metadata URL', () => {
    expect(descriptorUrlOf('http://127.0.0.1:5001')).toBe('http://127.0.0.1:5001/.well-known/agent-provisioning');
    expect(descriptorUrlOf('https://p.example/x/.well-known/agent-provisioning')).toBe('https://p.example/x/.well-known/agent-provisioning');
    expect(asMetadataUrl('http://127.0.0.1:5001/oauth')).toBe('http://127.0.0.1:5001/.well-known/oauth-authorization-server/oauth');
    expect(asMetadataUrl('https://as.example')).toBe('https://as.example/.well-known/oauth-authorization-server');
  });

  it('signs as Stripe does: the sandbox accepts it, refuses it stale or with another secret', () => {
    const now = Math.floor(Date.now() / 1000);
    const header = (t: number, secret: string) => `t=${t},v1=${stripeSignature(secret, t, '')}`;
    expect(() => verifyStripeSignature(header(now, 'whsec_a'), 'whsec_a', Buffer.alloc(0), now)).not.toThrow();
    expect(() => verifyStripeSignature(header(now - 600, 'whsec_a'), 'whsec_a', Buffer.alloc(0), now)).toThrow(/outside/);
    expect(() => verifyStripeSignature(header(now, 'whsec_b'), 'whsec_a', Buffer.alloc(0), now)).toThrow(/does not match/);
  });
});
