/**
 * Signing keys and cookie keys of the sandbox identity provider. Generated
 * once and persisted in the data dir (keys.json, mode 0600) so a restart keeps
 * sessions, ID tokens and ID-JAGs verifiable. In memory when no data dir.
 *
 * - RS256 key: ID tokens (oidc-provider's default id_token alg).
 * - ES256 key: ID-JAGs (draft-ietf-oauth-identity-assertion-authz-grant).
 * Both are published in the JWKS (`<issuer>/jwks`).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';
import { writeFileAtomicSync } from '../shared/json-state.js';

export interface IdpKeys {
  cookieKeys: string[];
  /** Private JWKs, as oidc-provider's `jwks` option wants them. */
  jwks: { keys: JWK[] };
}

const KeysFile = z.object({
  cookieKeys: z.array(z.string().min(32)).min(1),
  jwks: z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string() })).min(2) }),
});

async function privateJwk(kind: 'rsa' | 'ec', alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } =
    kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

async function generate(): Promise<IdpKeys> {
  return {
    cookieKeys: [randomBytes(32).toString('base64url')],
    jwks: { keys: [await privateJwk('rsa', 'RS256'), await privateJwk('ec', 'ES256')] },
  };
}

export async function loadOrCreateKeys(dataDir: string | undefined): Promise<IdpKeys> {
  if (!dataDir) return generate();
  const file = join(dataDir, 'keys.json');
  if (existsSync(file)) {
    const parsed = KeysFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`sandbox idp key file ${file} is malformed`);
    return parsed.data as IdpKeys;
  }
  const keys = await generate();
  writeFileAtomicSync(file, JSON.stringify(keys));
  return keys;
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
