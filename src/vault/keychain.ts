/**
 * The OS keychain, reached through @napi-rs/keyring (keytar's role; see the
 * README for why). It holds exactly one item per vault: the 32-byte key that
 * encrypts the vault file. Every call is bounded by a timeout, because
 * Secret Service implementations hang rather than fail on headless Linux.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { AgentprovError } from '../core/errors.js';
import { assertBusAnswers } from './dbus-liveness.js';
import { keychainRemedies, keychainTimeout } from './keychain-errors.js';

type Binding = typeof import('@napi-rs/keyring');

/**
 * The binding is CommonJS: load it with require(), not import(). An import()
 * of a CommonJS file makes Node scan its source for named exports first
 * (cjs-module-lexer), which costs about 7 ms on this binding's 29 KB loader,
 * on the start-up path of every command that reads a secret. The bare
 * `require` is the bundles' own (tsup's banner in dist/, esbuild's in the
 * single executable, which also swaps in scripts/sea/keyring.cjs); tests run
 * the sources, where only createRequire exists.
 */
function loadBinding(): Binding {
  return typeof require === 'function' ? (require('@napi-rs/keyring') as Binding) : (createRequire(import.meta.url)('@napi-rs/keyring') as Binding);
}

export const KEYCHAIN_SERVICE = 'agentprov';
export const DEFAULT_KEYCHAIN_TIMEOUT_MS = 3000;

export interface KeychainEntry {
  getPassword(signal?: AbortSignal): Promise<string | null>;
  setPassword(password: string, signal?: AbortSignal): Promise<void>;
  deleteCredential(signal?: AbortSignal): Promise<boolean>;
}

export interface Keychain {
  /** Human-readable name of the backing store, e.g. "Secret Service (D-Bus)". */
  readonly backend: string;
  get(account: string): Promise<string | null>;
  set(account: string, value: string): Promise<void>;
  delete(account: string): Promise<boolean>;
}

export function backendName(platform: NodeJS.Platform = process.platform): string {
  switch (platform) {
    case 'darwin':
      return 'macOS Keychain';
    case 'win32':
      return 'Windows Credential Manager';
    default:
      return 'Secret Service (D-Bus)';
  }
}

/** The keychain account that holds the key of the vault file at `vaultPath`. */
export function keyAccountFor(vaultPath: string): string {
  return `vault-key:${createHash('sha256').update(vaultPath).digest('hex').slice(0, 24)}`;
}

export async function openKeychain(timeoutMs = DEFAULT_KEYCHAIN_TIMEOUT_MS, env: NodeJS.ProcessEnv = process.env): Promise<Keychain> {
  const backend = backendName();
  // The bus check runs while the binding loads: loading connects to nothing
  // (the first AsyncEntry does, synchronously, hence the check before it).
  const busAnswers = process.platform === 'linux' ? assertBusAnswers(env, backend, timeoutMs) : Promise.resolve();
  let mod: Binding;
  try {
    mod = loadBinding();
  } catch (err) {
    busAnswers.catch(() => undefined);
    throw new AgentprovError('KEYCHAIN_UNAVAILABLE', `the keychain binding could not be loaded: ${(err as Error).message}`, {
      details: { reason: 'binding_missing' },
      cause: err,
    });
  }
  await busAnswers;
  // On Linux, insist on the Secret Service: the binding would otherwise fall
  // back silently to the kernel keyring, which is lost at reboot.
  const entry = (account: string): KeychainEntry =>
    new mod.AsyncEntry(KEYCHAIN_SERVICE, account, { linux: { store: 'secret-service' } });
  return {
    backend,
    get: (account) => bounded(backend, timeoutMs, (signal) => entry(account).getPassword(signal)),
    set: (account, value) => bounded(backend, timeoutMs, (signal) => entry(account).setPassword(value, signal)),
    delete: (account) => bounded(backend, timeoutMs, (signal) => entry(account).deleteCredential(signal)),
  };
}

async function bounded<T>(backend: string, timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(keychainTimeout(backend, timeoutMs));
    }, timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([call(controller.signal), timeout]);
  } catch (err) {
    throw classifyKeychainError(err, backend);
  } finally {
    clearTimeout(timer);
  }
}

function classifyKeychainError(err: unknown, backend: string): AgentprovError {
  if (err instanceof AgentprovError) return err;
  const text = err instanceof Error ? err.message : String(err);
  if (/locked|prompt|dismissed/i.test(text)) {
    return new AgentprovError('KEYCHAIN_LOCKED', `the keychain (${backend}) is locked and cannot be unlocked without a prompt`, {
      details: { reason: 'locked', backend, detail: text.slice(0, 300) },
      nextSteps: ['unlock your keyring (log in to a desktop session, or `gnome-keyring-daemon --unlock`)', ...keychainRemedies().slice(1)],
    });
  }
  return new AgentprovError('KEYCHAIN_UNAVAILABLE', `the keychain (${backend}) is not available: ${text.slice(0, 300)}`, {
    details: { reason: 'unavailable', backend, detail: text.slice(0, 300) },
    nextSteps: keychainRemedies(),
    cause: err,
  });
}
