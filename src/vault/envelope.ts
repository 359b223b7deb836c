/**
 * The vault file format: an AES-256-GCM envelope around a JSON document of
 * named entries. The key is either a random 32-byte key kept in the OS
 * keychain, or derived from a passphrase with scrypt (salt in the header).
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { z } from 'zod';
import { AgentprovError } from '../cli/errors.js';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
export const MAX_VAULT_BYTES = 8 * 1024 * 1024;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/).max(MAX_VAULT_BYTES * 2);

export const ScryptParams = z.object({
  name: z.literal('scrypt'),
  salt: b64,
  N: z.number().int().min(1024).max(2 ** 20),
  r: z.number().int().min(1).max(32),
  p: z.number().int().min(1).max(16),
});
export type ScryptParams = z.infer<typeof ScryptParams>;

export const EnvelopeFile = z.object({
  format: z.literal('agentprov-vault'),
  version: z.literal(1),
  store: z.enum(['keychain', 'file']),
  kdf: ScryptParams.optional(),
  iv: b64,
  tag: b64,
  ciphertext: b64,
});
export type EnvelopeFile = z.infer<typeof EnvelopeFile>;

export const VaultDocument = z.object({
  entries: z.record(z.string().max(512), z.unknown()),
});
export type VaultDocument = z.infer<typeof VaultDocument>;

export function newScryptParams(): ScryptParams {
  return { name: 'scrypt', salt: randomBytes(16).toString('base64'), N: 2 ** 15, r: 8, p: 1 };
}

export function deriveKey(passphrase: string, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r };
  return new Promise((resolve, reject) =>
    scryptCb(passphrase as BinaryLike, Buffer.from(params.salt, 'base64'), KEY_BYTES, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function seal(doc: VaultDocument, key: Buffer, store: EnvelopeFile['store'], kdf?: ScryptParams): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const header = { format: 'agentprov-vault', version: 1, store, ...(kdf ? { kdf } : {}) } as const;
  cipher.setAAD(Buffer.from(JSON.stringify(header)));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(doc), 'utf8'), cipher.final()]);
  const file: EnvelopeFile = {
    ...header,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
  return JSON.stringify(file);
}

/** Parse the outer envelope; a file that is not one is corrupt. */
export function parseEnvelope(text: string, path: string): EnvelopeFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw corrupt(path, 'it is not valid JSON (truncated or overwritten?)');
  }
  const parsed = EnvelopeFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(path, `field "${issue?.path.join('.') || '(root)'}" is invalid: ${issue?.message ?? 'unknown'}`);
  }
  return parsed.data;
}

/** Decrypt; `onAuthFailure` builds the error for a wrong key or tampering. */
export function open(file: EnvelopeFile, key: Buffer, path: string, onAuthFailure: () => AgentprovError): VaultDocument {
  const { iv, tag, ciphertext, ...header } = file;
  let plain: string;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(JSON.stringify(header)));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw onAuthFailure();
  }
  const doc = VaultDocument.safeParse(safeJson(plain));
  if (!doc.success) throw corrupt(path, 'the decrypted content is not a vault document');
  return doc.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function corrupt(path: string, why: string): AgentprovError {
  return new AgentprovError('VAULT_CORRUPT', `the vault file ${path} is corrupt: ${why}. It was left untouched.`, {
    details: { path, reason: why },
    nextSteps: [`move ${path} aside and sign in again (agentprov init)`],
  });
}
