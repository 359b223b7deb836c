/**
 * Signing keys and cookie keys of the sandbox identity provider. Generated
 * once and persisted in the data dir (keys.json, mode 0600) so a restart keeps
 * sessions, ID tokens and ID-JAGs verifiable. In memory when no data dir.
 *
 * - RS256 key: ID tokens (oidc-provider's default id_token alg).
 * - ES256 key: ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant).
 * Both are published in the JWKS (`<issuer>/jwks`).
 */
import { join } from 'node:path';
import type { JWK } from 'jose';
import { loadOrCreateKeys as loadOrCreate, type ServerKeys } from '../shared/keys.js';

export type IdpKeys = ServerKeys;

export function loadOrCreateKeys(dataDir: string | undefined): Promise<IdpKeys> {
  return loadOrCreate(dataDir && join(dataDir, 'keys.json'), ['RS256', 'ES256'], 'sandbox idp');
}

/** The private key that signs ID-JAGs. */
export function idJagSigningJwk(keys: IdpKeys): JWK & { kid: string } {
  const jwk = keys.jwks.keys.find((k) => k.alg === 'ES256');
  if (!jwk?.kid) throw new Error('sandbox idp: no ES256 key');
  return jwk as JWK & { kid: string };
}

/** Public halves of every key, for verifying what this IdP signed. */
export function publicJwks(keys: IdpKeys): { keys: JWK[] } {
  const strip = ({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }: JWK): JWK => pub;
  return { keys: keys.jwks.keys.map(strip) };
}
