/**
 * Where the vault's encryption key comes from. Two stores, chosen explicitly:
 * the OS keychain (default) or a passphrase (AGENTPROV_CREDENTIAL_STORE=file).
 * There is no silent fallback and never a plaintext store.
 */
import { randomBytes } from 'node:crypto';
import { AgentprovError } from '../core/errors.js';
import { deriveKey, KEY_BYTES, newScryptParams, type EnvelopeFile, type ScryptParams } from './envelope.js';
import { keyAccountFor, openKeychain, type Keychain } from './keychain.js';

export type StoreKind = EnvelopeFile['store'];

export interface KeySource {
  readonly kind: StoreKind;
  /** Where the key lives, for `vault status` / `whoami`. Never the key. */
  readonly description: string;
  /** Why this store was chosen. */
  readonly reason: string;
  /** The key for an existing vault file. */
  keyFor(file: EnvelopeFile, path: string): Promise<Buffer>;
  /** The key (and kdf header) for writing a vault that does not exist yet. */
  keyForNew(): Promise<{ key: Buffer; kdf?: ScryptParams }>;
  /** Write, read and delete a throwaway item to prove the store works. */
  probe(): Promise<void>;
  /** Forget the key (after the vault file is deleted). */
  destroy(): Promise<void>;
}

export interface KeySourceOptions {
  env: NodeJS.ProcessEnv;
  vaultPath: string;
  keychain?: () => Promise<Keychain>;
}

export async function chooseKeySource(opts: KeySourceOptions): Promise<KeySource> {
  const choice = (opts.env.AGENTPROV_CREDENTIAL_STORE ?? 'keychain').toLowerCase();
  if (choice === 'file') return passphraseSource(opts.env, 'AGENTPROV_CREDENTIAL_STORE=file');
  if (choice !== 'keychain') {
    throw new AgentprovError('USAGE', `AGENTPROV_CREDENTIAL_STORE must be "keychain" or "file", not "${choice.slice(0, 40)}"`);
  }
  const timeout = Number(opts.env.AGENTPROV_KEYCHAIN_TIMEOUT_MS) || undefined;
  const keychain = await (opts.keychain ?? (() => openKeychain(timeout, opts.env)))();
  return keychainSource(keychain, opts.vaultPath);
}

function keychainSource(keychain: Keychain, vaultPath: string): KeySource {
  const account = keyAccountFor(vaultPath);
  let cached: Buffer | undefined;
  const decode = (value: string): Buffer | undefined => {
    const key = Buffer.from(value, 'base64');
    return key.length === KEY_BYTES ? key : undefined;
  };
  return {
    kind: 'keychain',
    description: `${keychain.backend}, item "${account}" of service "agentprov"`,
    reason: 'default: the OS keychain holds the vault key',
    async keyFor(file, path) {
      if (file.store !== 'keychain') throw storeMismatch(path, file.store, 'keychain');
      if (cached) return cached;
      const value = await keychain.get(account);
      const key = value ? decode(value) : undefined;
      if (!key) {
        throw new AgentprovError(
          'VAULT_KEY_MISSING',
          `the vault file ${path} exists but its key is missing from the keychain (${keychain.backend}); the vault cannot be decrypted and was left untouched`,
          { details: { path, backend: keychain.backend }, nextSteps: [`move ${path} aside and sign in again (agentprov init)`] },
        );
      }
      return (cached = key);
    },
    async keyForNew() {
      const existing = await keychain.get(account);
      const reuse = existing ? decode(existing) : undefined;
      if (reuse) return { key: (cached = reuse) };
      const key = randomBytes(KEY_BYTES);
      await keychain.set(account, key.toString('base64'));
      return { key: (cached = key) };
    },
    async probe() {
      const probeAccount = `probe:${randomBytes(6).toString('hex')}`;
      const value = randomBytes(16).toString('base64');
      await keychain.set(probeAccount, value);
      const back = await keychain.get(probeAccount);
      await keychain.delete(probeAccount);
      if (back !== value) {
        throw new AgentprovError('KEYCHAIN_UNAVAILABLE', `the keychain (${keychain.backend}) did not return what was written`, {
          details: { reason: 'probe_mismatch', backend: keychain.backend },
        });
      }
    },
    async destroy() {
      cached = undefined;
      await keychain.delete(account);
    },
  };
}

function passphraseSource(env: NodeJS.ProcessEnv, reason: string): KeySource {
  const passphrase = env.AGENTPROV_VAULT_PASSPHRASE;
  const need = (): string => {
    if (!passphrase) {
      throw new AgentprovError('VAULT_PASSPHRASE_REQUIRED', 'the passphrase file store needs AGENTPROV_VAULT_PASSPHRASE', {
        nextSteps: ['set AGENTPROV_VAULT_PASSPHRASE, or unset AGENTPROV_CREDENTIAL_STORE to use the OS keychain'],
      });
    }
    return passphrase;
  };
  // scrypt costs about 100 ms: derive once per kdf header, not on every read and write of a command.
  let cached: { kdf: string; key: Buffer } | undefined;
  const keyOf = async (kdf: ScryptParams): Promise<Buffer> => {
    const id = `${kdf.salt}:${kdf.N}:${kdf.r}:${kdf.p}`;
    if (cached?.kdf === id) return cached.key;
    const key = await deriveKey(need(), kdf);
    cached = { kdf: id, key };
    return key;
  };
  return {
    kind: 'file',
    description: 'an encrypted file, key derived from AGENTPROV_VAULT_PASSPHRASE with scrypt',
    reason: `chosen explicitly (${reason})`,
    async keyFor(file, path) {
      if (file.store !== 'file' || !file.kdf) throw storeMismatch(path, file.store, 'file');
      return keyOf(file.kdf);
    },
    async keyForNew() {
      const kdf = newScryptParams();
      return { key: await keyOf(kdf), kdf };
    },
    async probe() {
      need();
    },
    async destroy() {},
  };
}

function storeMismatch(path: string, found: string, wanted: string): AgentprovError {
  return new AgentprovError(
    'VAULT_STORE_MISMATCH',
    `the vault file ${path} was written with the ${found} store, but the ${wanted} store is selected; nothing was changed`,
    { details: { path, found, wanted }, nextSteps: [found === 'file' ? 'set AGENTPROV_CREDENTIAL_STORE=file and AGENTPROV_VAULT_PASSPHRASE' : 'unset AGENTPROV_CREDENTIAL_STORE'] },
  );
}
