/**
 * Everything the domain needs from the outside world, in one object, so a
 * test can hand it buffers, a fixed clock or a fake browser without mocking
 * modules, and so the domain never reaches for the process, the terminal or
 * the CLI itself (docs/architecture.md). The CLI builds the real one
 * (src/cli/deps.ts, createDeps).
 */
import type { spawn } from 'node:child_process';
import type { IO } from './io.js';
import type { Paths } from './paths.js';

export interface GlobalOptions {
  json: boolean;
  /** False with --no-input. */
  input: boolean;
  verbose: boolean;
}

/** A human's answer, asked only when one can answer (`Deps.canPrompt`); otherwise it throws USAGE. */
export interface Prompter {
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
  password(message: string): Promise<string>;
}

/** Which store holds the vault's key: the OS keychain, or a passphrase-derived key (src/vault/). */
export type CredentialStoreKind = 'keychain' | 'file';

export interface VaultStatus {
  store: CredentialStoreKind;
  location: string;
  key: string;
  reason: string;
  entries: number;
}

/** The encrypted credential store (src/vault/vault.ts implements it). */
export interface SecretVault {
  readonly path: string;
  readonly store: CredentialStoreKind;
  /** Identifies the file's current contents (changes on every write); undefined before the first read. */
  readonly fingerprint: string | undefined;
  get(name: string): Promise<unknown>;
  entries(): Promise<Record<string, unknown>>;
  names(): Promise<string[]>;
  set(name: string, value: unknown): Promise<void>;
  delete(name: string): Promise<boolean>;
  update<R>(fn: (entries: Record<string, unknown>) => R | Promise<R>): Promise<R>;
  status(): Promise<VaultStatus>;
  probe(): Promise<void>;
  destroy(): Promise<void>;
}

export interface Deps {
  io: IO;
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock: { now(): Date };
  paths: Paths;
  globals: GlobalOptions;
  /** agentprov's own arguments, as given (e.g. where `--` stands for `run`). */
  argv: string[];
  /** True only when a human can answer a prompt right now (never with --json, --no-input, CI=true or without a TTY). */
  canPrompt(): boolean;
  vault(): Promise<SecretVault>;
  browser: {
    /** Whether this machine can show the human a browser (a display, an opener); false over SSH or in a container. */
    available(): Promise<boolean>;
    /** Open `url`; false when it could not be opened. */
    open(url: string): Promise<boolean>;
  };
  prompter: Prompter;
  spawn: typeof spawn;
  /** Diagnostics on stderr when --verbose; never data. */
  debug(message: string): void;
}
