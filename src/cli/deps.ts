/**
 * Everything a command needs from the outside world, in one object, so a
 * test can hand a command buffers, a fixed clock or a fake browser without
 * mocking modules. Heavy pieces (vault, HTTP, even node:child_process) are
 * loaded on first use: this module is on every command's start-up path.
 */
import type { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { AgentprovError } from './errors.js';
import { processIO, type IO } from './io.js';
import { resolvePaths, type Paths } from '../paths.js';
import type { Vault } from '../vault/vault.js';

export interface GlobalOptions {
  json: boolean;
  /** False with --no-input. */
  input: boolean;
  verbose: boolean;
}

export interface Prompter {
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
  password(message: string): Promise<string>;
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
  /** True only when a human can answer a prompt right now (DESIGN §4). */
  canPrompt(): boolean;
  vault(): Promise<Vault>;
  browser: { open(url: string): Promise<boolean> };
  prompter: Prompter;
  spawn: typeof spawn;
  /** Diagnostics on stderr when --verbose; never data. */
  debug(message: string): void;
}

export function canPrompt(io: IO, env: NodeJS.ProcessEnv, globals: GlobalOptions): boolean {
  if (globals.json || !globals.input) return false;
  if (env.CI === 'true' || env.CI === '1') return false;
  return io.stdinIsTTY && io.stderrIsTTY;
}

export function createDeps(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env, io: IO = processIO(env), argv: string[] = process.argv.slice(2)): Deps {
  let vault: Promise<Vault> | undefined;
  const deps: Deps = {
    io,
    env,
    cwd: process.cwd(),
    clock: { now: () => new Date() },
    paths: resolvePaths(env),
    globals,
    argv,
    canPrompt: () => canPrompt(io, env, globals),
    vault: () =>
      (vault ??= import('../vault/vault.js').then((m) =>
        m.openVault({
          env,
          stateDir: deps.paths.state,
          redactor: io.redactor,
          // Whatever write leaves no session (logout, a refused refresh) also drops what whoami shows.
          afterWrite: async (entries) => {
            if (!('session' in entries)) (await import('../auth/identity.js')).removeIdentity(deps.paths.state);
          },
        }),
      )),
    browser: {
      async open(url) {
        const { openBrowser } = await import('./browser.js');
        return openBrowser(url, env);
      },
    },
    prompter: {
      async confirm(message, defaultValue = false) {
        if (!deps.canPrompt()) throw noPrompt(message);
        const { confirm } = await import('@inquirer/prompts');
        return confirm({ message, default: defaultValue }, { input: io.stdin, output: io.stderr });
      },
      async password(message) {
        if (!deps.canPrompt()) throw noPrompt(message);
        const { password } = await import('@inquirer/prompts');
        return password({ message, mask: true }, { input: io.stdin, output: io.stderr });
      },
    },
    spawn: ((...args: Parameters<typeof spawn>) => lazyRequire<typeof import('node:child_process')>('node:child_process').spawn(...args)) as typeof spawn,
    debug: (message) => {
      if (globals.verbose) io.err(`[debug] ${message}\n`);
    },
  };
  return deps;
}

/** A Node built-in, loaded when first needed (require: no ESM facade to build). */
function lazyRequire<T>(id: string): T {
  return createRequire(import.meta.url)(id) as T;
}

function noPrompt(question: string): AgentprovError {
  return new AgentprovError('USAGE', `cannot ask "${question}" without an interactive terminal`, {
    nextSteps: ['run it in a terminal, or pass the flag that answers it'],
  });
}
