/**
 * The vault file format: an AES-256-GCM envelope around a JSON document of
 * named entries. The key is either a random 32-byte key kept in the OS
 * keychain, or derived from a passphrase with scrypt (salt in the header).
 *
 * Both layers are narrowed by hand, field by field with the same bounds a
 * schema would give, rather than with zod: every command that touches a
 * secret (`token`, `run`, `whoami --refresh`) reads this file first, and
 * loading zod costs more start-up than the rest of that read (see README
 * "Build"). The outer envelope is untrusted bytes from disk; the inner
 * document is authenticated by GCM (and its header bound in as AAD), so it
 * is what agentprov itself wrote.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type BinaryLike, type ScryptOptions } from 'node:crypto';
import { AgentprovError } from '../core/errors.js';

export const KEY_BYTES = 32;
const IV_BYTES = 12;
export const MAX_VAULT_BYTES = 8 * 1024 * 1024;
/** Longest entry name. */
const MAX_NAME = 512;

export interface ScryptParams {
  name: 'scrypt';
  /** base64 */
  salt: string;
  N: number;
  r: number;
  p: number;
}

export interface EnvelopeFile {
  format: 'agentprov-vault';
  version: 1;
  store: 'keychain' | 'file';
  kdf?: ScryptParams;
  iv: string;
  tag: string;
  ciphertext: string;
}

export interface VaultDocument {
  entries: Record<string, unknown>;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isB64 = (v: unknown): v is string => typeof v === 'string' && v.length <= MAX_VAULT_BYTES * 2 && B64.test(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const intIn = (v: unknown, min: number, max: number): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;

class Invalid extends Error {
  constructor(
    readonly field: string,
    why: string,
  ) {
    super(why);
  }
}

function narrowScrypt(raw: unknown): ScryptParams {
  if (!isObj(raw)) throw new Invalid('kdf', 'expected an object');
  const { name, salt, N, r, p } = raw;
  if (name !== 'scrypt') throw new Invalid('kdf.name', 'expected "scrypt"');
  if (!isB64(salt)) throw new Invalid('kdf.salt', 'expected base64');
  if (!intIn(N, 1024, 2 ** 20)) throw new Invalid('kdf.N', 'expected an integer from 1024 to 2^20');
  if (!intIn(r, 1, 32)) throw new Invalid('kdf.r', 'expected an integer from 1 to 32');
  if (!intIn(p, 1, 16)) throw new Invalid('kdf.p', 'expected an integer from 1 to 16');
  return { name, salt, N, r, p };
}

/**
 * The envelope with exactly its known fields, in the order `seal` writes
 * them: `open` binds the header (everything but iv, tag, ciphertext) as AAD,
 * so unknown fields must not reach it.
 */
function narrowEnvelope(raw: unknown): EnvelopeFile {
  if (!isObj(raw)) throw new Invalid('(root)', 'expected an object');
  const { format, version, store, kdf, iv, tag, ciphertext } = raw;
  if (format !== 'agentprov-vault') throw new Invalid('format', 'expected "agentprov-vault"');
  if (version !== 1) throw new Invalid('version', 'expected 1');
  if (store !== 'keychain' && store !== 'file') throw new Invalid('store', 'expected "keychain" or "file"');
  const params = kdf === undefined ? undefined : narrowScrypt(kdf);
  if (!isB64(iv)) throw new Invalid('iv', 'expected base64');
  if (!isB64(tag)) throw new Invalid('tag', 'expected base64');
  if (!isB64(ciphertext)) throw new Invalid('ciphertext', 'expected base64');
  return { format, version, store, ...(params ? { kdf: params } : {}), iv, tag, ciphertext };
}

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
  try {
    return narrowEnvelope(raw);
  } catch (err) {
    const e = err as Invalid;
    throw corrupt(path, `field "${e.field}" is invalid: ${e.message}`);
  }
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
  const doc = safeJson(plain);
  if (!isObj(doc) || !isObj(doc.entries) || Object.keys(doc.entries).some((k) => k.length > MAX_NAME)) {
    throw corrupt(path, 'the decrypted content is not a vault document');
  }
  return { entries: doc.entries };
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
