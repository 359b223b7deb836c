/**
 * Keys of a provider's authorization server: one RS256 signing key (ID
 * tokens, oidc-provider's default alg) and the cookie signing keys. Generated
 * once and persisted (`keys.json`, mode 0600) so a restart keeps sessions and
 * issued ID tokens verifiable; in memory when there is no data dir.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { z } from 'zod';
import { writeFileAtomicSync } from '../../shared/json-state.js';

export interface AuthKeys {
  cookieKeys: string[];
  /** Private JWKs, as oidc-provider's `jwks` option wants them. */
  jwks: { keys: JWK[] };
}

const KeysFile = z.object({
  cookieKeys: z.array(z.string().min(32)).min(1),
  jwks: z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string() })).min(1) }),
});

async function generate(): Promise<AuthKeys> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return {
    cookieKeys: [randomBytes(32).toString('base64url')],
    jwks: { keys: [{ ...jwk, alg: 'RS256', use: 'sig', kid: await calculateJwkThumbprint(jwk) }] },
  };
}

export async function loadOrCreateKeys(file: string | undefined): Promise<AuthKeys> {
  if (!file) return generate();
  if (existsSync(file)) {
    const parsed = KeysFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`provider auth key file ${file} is malformed`);
    return parsed.data as AuthKeys;
  }
  const keys = await generate();
  writeFileAtomicSync(file, JSON.stringify(keys));
  return keys;
}
