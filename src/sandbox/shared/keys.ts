/**
 * Signing and cookie keys of the sandbox's oidc-provider servers (the
 * identity provider and each provider's authorization server). Generated
 * once and persisted in a JSON file (mode 0600) so a restart keeps sessions
 * and issued tokens verifiable; in memory when there is no file.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import * as z from 'zod';
import { writeFileAtomicSync } from './json-state.js';

export interface ServerKeys {
  cookieKeys: string[];
  /** Private JWKs, as oidc-provider's `jwks` option wants them. */
  jwks: { keys: JWK[] };
}

export type SigningAlg = 'RS256' | 'ES256';

async function privateJwk(alg: SigningAlg): Promise<JWK> {
  const { privateKey } =
    alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  return { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) };
}

async function generate(algs: readonly SigningAlg[]): Promise<ServerKeys> {
  const keys: JWK[] = [];
  for (const alg of algs) keys.push(await privateJwk(alg));
  return { cookieKeys: [randomBytes(32).toString('base64url')], jwks: { keys } };
}

/**
 * The keys in `file`, or new ones (one signing key per `algs` entry, in that
 * order) written there. `owner` names the server in the error for a bad file.
 */
export async function loadOrCreateKeys(file: string | undefined, algs: readonly SigningAlg[], owner: string): Promise<ServerKeys> {
  if (!file) return generate(algs);
  if (existsSync(file)) {
    const KeysFile = z.object({
      cookieKeys: z.array(z.string().min(32)).min(1),
      jwks: z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string(), alg: z.string() })).min(algs.length) }),
    });
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      raw = undefined; // the parser's message would quote the file: private key material
    }
    const parsed = KeysFile.safeParse(raw);
    if (!parsed.success) throw new Error(`${owner} key file ${file} is malformed`);
    return parsed.data as ServerKeys;
  }
  const keys = await generate(algs);
  writeFileAtomicSync(file, JSON.stringify(keys));
  return keys;
}
