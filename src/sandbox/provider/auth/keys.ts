/**
 * Keys of a provider's authorization server: one RS256 signing key (ID
 * tokens, oidc-provider's default alg) and the cookie signing keys, kept in
 * `keys.json` (see ../../shared/keys.ts).
 */
import { loadOrCreateKeys as loadOrCreate, type ServerKeys } from '../../shared/keys.js';

export type AuthKeys = ServerKeys;

export function loadOrCreateKeys(file: string | undefined): Promise<AuthKeys> {
  return loadOrCreate(file, ['RS256'], 'provider auth');
}
