/**
 * The program's one entry: parse, run the command, render the result or the
 * error, and return the exit code. Only here are errors turned into exit
 * codes (via errors.ts), and only the caller of `main` exits the process.
 */
import { CommanderError } from 'commander';
import { createDeps, type Deps } from './deps.js';
import { AgentprovError, EXIT, isAgentprovError } from '../core/errors.js';
import type { IO } from '../core/io.js';
import { processIO } from './io.js';
import { renderError, renderSuccess } from './output.js';
import { buildProgram, COMMANDS, type CommandSpec } from './program.js';

import { envelopeContext, VERSION } from './meta.js';

export { VERSION } from './meta.js';

export interface MainOptions {
  env?: NodeJS.ProcessEnv;
  io?: IO;
  /** Replace parts of Deps (tests). */
  deps?: Partial<Deps>;
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const io = options.io ?? processIO(env);
  const jsonRequested = ownArgs(argv).includes('--json');
  let commandName = 'agentprov';
  let exitCode: number = EXIT.OK;
  // version and meta of the JSON envelope, looked up only when one is printed.
  const ctx = () => envelopeContext(env, options.deps?.cwd ?? process.cwd());

  const fail = (err: AgentprovError): void => {
    renderError(io, jsonRequested, commandName, err, ctx);
    exitCode = err.exitCode;
  };

  const invoke = async (spec: CommandSpec, args: string[], opts: Record<string, unknown>, name: string): Promise<void> => {
    commandName = name;
    const globals = { json: Boolean(opts.json), input: opts.input !== false, verbose: Boolean(opts.verbose) };
    const deps: Deps = { ...createDeps(globals, env, io, argv), ...options.deps };
    const mod = await spec.load();
    const result = await mod.run(deps, args, opts);
    renderSuccess(io, globals.json, name, result, () => envelopeContext(env, deps.cwd));
    // A command may end with another code on success (`run`: its child's, 128 + signal when killed).
    if (result.exitCode !== undefined) exitCode = Number.isInteger(result.exitCode) && result.exitCode >= 0 && result.exitCode <= 255 ? result.exitCode : EXIT.OTHER;
  };

  const program = buildProgram(
    VERSION,
    invoke,
    (root) =>
      root.exitOverride().configureOutput({
        writeOut: (s) => io.out(s),
        writeErr: (s) => io.err(s),
        // Usage errors are rendered once, below, as every error is: the envelope under --json, prose otherwise.
        outputError: () => undefined,
      }),
    specsFor(argv),
  );

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.OK; // --help, --version
      // commander quotes the argument it refused, which may be `--api-token=…`: masked as the audit log masks it.
      const { maskArgsIn } = await import('../audit/context.js');
      fail(new AgentprovError('USAGE', maskArgsIn(err.message.replace(/^error: /, ''), ownArgs(argv)), { nextSteps: ['agentprov --help'] }));
    } else if (isAgentprovError(err)) {
      fail(err);
    } else {
      const e = err as Error;
      // A write of agentprov's files (journal, vault, manifest, ledger...) the file system refused: said as that, not INTERNAL.
      const { notWritable } = await import('../util/not-writable.js');
      fail(notWritable(err, undefined, env) ?? new AgentprovError('INTERNAL', `unexpected failure: ${e?.message ?? String(err)}`, { details: { name: e?.name } }));
      if (env.AGENTPROV_DEBUG) io.err(`${e?.stack ?? ''}\n`);
    }
  }
  return exitCode;
}

/**
 * The commands to declare for this invocation: those under the command word
 * given (its group, for `vault status`), or all of them when there is none or
 * it names no command, so root help, `help`, and the suggestions for a
 * misspelt command are what they always were. commander parses argv either
 * way; this only spares every run from declaring two dozen commands it will
 * not use (start-up, issue 4 and 8). Global options take no value, so the
 * first word that is not an option is the command.
 */
export function specsFor(argv: string[], specs: CommandSpec[] = COMMANDS): CommandSpec[] {
  const word = ownArgs(argv).find((a) => !a.startsWith('-'));
  const chosen = word === undefined ? [] : specs.filter((s) => s.path[0] === word);
  return chosen.length ? chosen : specs;
}

/** agentprov's own arguments: those before `--` (after it, `run`'s command and its flags, e.g. its own --json). */
export function ownArgs(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}
