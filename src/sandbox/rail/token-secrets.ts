/**
 * Payment token ids and secrets.
 *
 * The ledger stores only sha256(secret). So that an idempotent retry can be
 * answered with the same secret (even after a restart) without storing it,
 * the secret is derived: `pt_` + base64url(HMAC-SHA256(railKey, tokenId)).
 * The 32-byte rail key lives apart from the ledger (`<dataDir>/rail-token-key`,
 * mode 0600), or in memory only when there is no data dir.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../shared/json-state.js';
import { PAYMENT_TOKEN_PREFIX } from '../../wire/rail.js';

export interface TokenSecrets {
  newTokenId(): string;
  newRedemptionId(): string;
  secretFor(tokenId: string): string;
  hash(secret: string): string;
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

function loadOrCreateKey(file: string | undefined): Buffer {
  if (!file) return randomBytes(32);
  if (existsSync(file)) {
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (key.length !== 32) throw new Error(`rail key file ${file} is not a 32-byte base64url key`);
    return key;
  }
  const key = randomBytes(32);
  writeFileAtomicSync(file, key.toString('base64url'));
  return key;
}

export function createTokenSecrets(keyFile: string | undefined): TokenSecrets {
  const key = loadOrCreateKey(keyFile);
  const id = (prefix: string): string => prefix + randomBytes(16).toString('base64url');
  return {
    newTokenId: () => id('ptid_'),
    newRedemptionId: () => id('red_'),
    secretFor: (tokenId) => PAYMENT_TOKEN_PREFIX + createHmac('sha256', key).update(tokenId).digest('base64url'),
    hash: sha256Hex,
  };
}
