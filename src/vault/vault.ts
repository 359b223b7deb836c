/**
 * The credential vault: named JSON entries in one encrypted file (see
 * envelope.ts), its key in the OS keychain or derived from a passphrase
 * (key-source.ts). Writes take a cross-process lock and re-read the file
 * inside it, so concurrent agentprov processes never lose an update.
 *
 * Reading needs only the key and the file: the lock and the atomic writer
 * are loaded on the first write, so a read-only command (`token` from its
 * cache) does not pay for them at start-up.
 */
import { open as openFile, rm, stat } from 'node:fs/promises';
import { AgentprovError } from '../core/errors.js';
import type { SecretVault, VaultStatus } from '../core/deps.js';
import type { Redactor } from '../core/io.js';
import { corrupt, MAX_VAULT_BYTES, open, parseEnvelope, seal, type VaultDocument } from './envelope.js';
import { chooseKeySource, type KeySource, type KeySourceOptions } from './key-source.js';
import { fingerprintOf, vaultPath } from './location.js';

/**
 * Called under the vault lock after each write with the entries now stored
 * (names and values: never print them). The CLI uses it to drop files that
 * describe an entry once the entry is gone (auth/identity.ts).
 */
export type AfterWrite = (entries: Readonly<Record<string, unknown>>) => void | Promise<void>;

export type { VaultStatus } from '../core/deps.js';

export class Vault implements SecretVault {
  readonly path: string;
  readonly #keys: KeySource;
  readonly #redactor: Redactor | undefined;
  readonly #afterWrite: AfterWrite | undefined;
  #fingerprint: string | undefined;

  constructor(path: string, keys: KeySource, redactor?: Redactor, afterWrite?: AfterWrite) {
    this.path = path;
    this.#keys = keys;
    this.#redactor = redactor;
    this.#afterWrite = afterWrite;
  }

  get store(): KeySource['kind'] {
    return this.#keys.kind;
  }

  /** One entry, or undefined. Reading never creates a key or a file. */
  async get(name: string): Promise<unknown> {
    const doc = await this.#read();
    return doc.entries[name];
  }

  /** Every entry, from one read of the file. */
  async entries(): Promise<Record<string, unknown>> {
    return { ...(await this.#read()).entries };
  }

  /**
   * The fingerprint (location.ts) of the file this object last read or
   * wrote, or undefined when it has seen none. What that read returned, or
   * that write stored, is what the file with this fingerprint holds.
   */
  get fingerprint(): string | undefined {
    return this.#fingerprint;
  }

  async names(): Promise<string[]> {
    return Object.keys((await this.#read()).entries);
  }

  async set(name: string, value: unknown): Promise<void> {
    await this.update((entries) => {
      entries[name] = value;
    });
  }

  async delete(name: string): Promise<boolean> {
    return this.update((entries) => {
      const had = name in entries;
      delete entries[name];
      return had;
    });
  }

  /**
   * Exclusive read-modify-write across processes: lock, re-read, apply `fn`
   * to the entries, seal, write atomically, unlock.
   */
  update<R>(fn: (entries: Record<string, unknown>) => R | Promise<R>): Promise<R> {
    return this.#locked(async () => {
      const text = (await readIfExists(this.path))?.text;
      let key: Buffer;
      let kdf;
      let doc: VaultDocument;
      if (text === undefined) {
        ({ key, kdf } = await this.#keys.keyForNew());
        doc = { entries: {} };
      } else {
        const file = parseEnvelope(text, this.path);
        key = await this.#keys.keyFor(file, this.path);
        kdf = file.kdf;
        doc = this.#open(file, key);
      }
      const result = await fn(doc.entries);
      const { default: writeFileAtomic } = await import('write-file-atomic');
      await writeFileAtomic(this.path, seal(doc, key, this.#keys.kind, kdf), { mode: 0o600 });
      // Still under the lock: no other agentprov process can have replaced it since.
      this.#fingerprint = fingerprintOf(await stat(this.path, { bigint: true }));
      await this.#afterWrite?.(doc.entries);
      return result;
    });
  }

  async status(): Promise<VaultStatus> {
    return {
      store: this.#keys.kind,
      location: this.path,
      key: this.#keys.description,
      reason: this.#keys.reason,
      entries: (await this.names()).length,
    };
  }

  probe(): Promise<void> {
    return this.#keys.probe();
  }

  /** Delete the vault file and its key (logout of everything). */
  destroy(): Promise<void> {
    return this.#locked(async () => {
      await rm(this.path, { force: true });
      this.#fingerprint = undefined;
      await this.#keys.destroy();
    });
  }

  async #read(): Promise<VaultDocument> {
    const read = await readIfExists(this.path);
    if (read === undefined) {
      this.#fingerprint = undefined;
      return { entries: {} };
    }
    const file = parseEnvelope(read.text, this.path);
    const doc = this.#open(file, await this.#keys.keyFor(file, this.path));
    this.#fingerprint = read.fingerprint;
    return doc;
  }

  #open(file: ReturnType<typeof parseEnvelope>, key: Buffer): VaultDocument {
    const doc = open(file, key, this.path, () =>
      file.store === 'file'
        ? new AgentprovError('VAULT_PASSPHRASE_INVALID', `the passphrase does not open the vault ${this.path} (or the file was tampered with); nothing was changed`, {
            details: { path: this.path },
            nextSteps: ['check AGENTPROV_VAULT_PASSPHRASE'],
          })
        : corrupt(this.path, 'decryption failed: the file was modified or does not match the key in the keychain'),
    );
    this.#rememberSecrets(doc.entries);
    return doc;
  }

  /**
   * Teach the redactor the vault's secrets, so none can leave the process in
   * output. An entry that is a bare string is a secret; inside an object,
   * strings under secret-named fields (…token, secret, password, device_code,
   * key, assertion, credential) are, and identifiers beside them (account_id,
   * client_id, issuer, provider) are not, so naming a provider or an account
   * in output or in the audit log stays possible.
   */
  #rememberSecrets(entries: Record<string, unknown>): void {
    if (!this.#redactor) return;
    for (const value of Object.values(entries)) this.#redactor.addSecretFields(value, typeof value === 'string');
  }

  async #locked<T>(fn: () => Promise<T>): Promise<T> {
    const { withFileLock } = await import('../util/file-lock.js');
    return withFileLock(this.path, { code: 'VAULT_LOCKED', what: 'the vault' }, fn);
  }
}

/** The file's text and the fingerprint of exactly the file it was read from (fstat of the same descriptor). */
async function readIfExists(path: string): Promise<{ text: string; fingerprint: string } | undefined> {
  let handle;
  try {
    handle = await openFile(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const st = await handle.stat({ bigint: true });
    if (st.size > BigInt(MAX_VAULT_BYTES)) throw corrupt(path, `it is larger than ${MAX_VAULT_BYTES} bytes`);
    const buf = await handle.readFile();
    if (buf.length > MAX_VAULT_BYTES) throw corrupt(path, `it is larger than ${MAX_VAULT_BYTES} bytes`);
    return { text: buf.toString('utf8'), fingerprint: fingerprintOf(st) };
  } finally {
    await handle.close();
  }
}

export async function openVault(opts: Omit<KeySourceOptions, 'vaultPath'> & { stateDir: string; redactor?: Redactor; afterWrite?: AfterWrite }): Promise<Vault> {
  const path = vaultPath(opts.stateDir);
  const keys = await chooseKeySource({ ...opts, vaultPath: path });
  return new Vault(path, keys, opts.redactor, opts.afterWrite);
}
