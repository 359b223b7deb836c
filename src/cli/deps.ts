/**
 * The real Deps (src/core/deps.ts) of a CLI process. Heavy pieces (vault,
 * HTTP, even node:child_process) are loaded on first use: this module is on
 * every command's start-up path.
 */
import type { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Deps, GlobalOptions, SecretVault } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { IO } from '../core/io.js';
import { resolvePaths } from '../core/paths.js';
import { processIO } from './io.js';

export type { Deps, GlobalOptions } from '../core/deps.js';

export function canPrompt(io: IO, env: NodeJS.ProcessEnv, globals: GlobalOptions): boolean {
  if (globals.json || !globals.input) return false;
  if (env.CI === 'true' || env.CI === '1') return false;
  return io.stdinIsTTY && io.stderrIsTTY;
}

export function createDeps(globals: GlobalOptions, env: NodeJS.ProcessEnv = process.env, io: IO = processIO(env), argv: string[] = process.argv.slice(2)): Deps {
  let vault: Promise<SecretVault> | undefined;
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
      async available() {
        const { hasBrowser } = await import('./browser.js');
        return hasBrowser(env);
      },
      async open(url) {
        const { openBrowser } = await import('./browser.js');
        return openBrowser(url, env);
      },
    },
    prompter: {
      async confirm(message, defaultValue = false) {
        if (!deps.canPrompt()) throw noPrompt(message);
        const { confirm } = await import('./prompts.js');
        return confirm({ message, default: defaultValue }, { input: io.stdin, output: io.stderr });
      },
      async password(message) {
        if (!deps.canPrompt()) throw noPrompt(message);
        const { password } = await import('./prompts.js');
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
