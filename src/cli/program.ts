/**
 * The command table. Each entry declares its arguments and flags and names
 * the module that implements it; the module is imported only when the
 * command runs, so `--version` and `--help` load no OIDC, HTTP or keychain
 * code.
 */
import { Command, Option } from 'commander';
import type { Deps } from './deps.js';
import type { CommandResult } from './output.js';

export interface CommandModule {
  run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult>;
}

export interface CommandSpec {
  /** e.g. ['vault', 'status'] */
  path: string[];
  summary: string;
  configure?: (cmd: Command) => void;
  load: () => Promise<CommandModule>;
}

export const COMMANDS: CommandSpec[] = [
  {
    path: ['vault', 'status'],
    summary: 'Say which credential store is in use and why (no secrets)',
    configure: (c) => c.option('--no-probe', 'skip the write/read/delete probe of the store'),
    load: () => import('./commands/vault-status.js'),
  },
  {
    path: ['sandbox'],
    summary: 'Run every counterpart (identity provider, payment rail, providers) on loopback until interrupted',
    configure: (c) =>
      c
        .option('--port <n>', 'port of the orchestrator; the rail and providers take the next ones (default: random, or the ports remembered in the data dir)')
        .option('--data-dir <dir>', 'where the sandbox keeps its state (default: <state dir>/sandbox)')
        .option('--auto-approve', 'approve device codes and consent for the demo user without a browser (demo and quick tests only)'),
    load: () => import('./commands/sandbox.js'),
  },
];

export type Invoke = (spec: CommandSpec, args: string[], opts: Record<string, unknown>, name: string) => Promise<void>;

/**
 * `prepare` configures the root before any subcommand exists: commander copies
 * exit and output settings into subcommands only when they are created.
 */
export function buildProgram(version: string, invoke: Invoke, prepare: (root: Command) => void = () => {}, specs: CommandSpec[] = COMMANDS): Command {
  const program = new Command('agentprov');
  prepare(program);
  program
    .description('Provision services at external providers for a signed-in human; agents get only short-lived credentials.')
    .version(version, '-V, --version')
    .addOption(new Option('--json', 'print exactly one JSON envelope on stdout'))
    .addOption(new Option('--no-input', 'never prompt; fail with next steps instead'))
    .addOption(new Option('--verbose', 'diagnostics on stderr'))
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false);

  const groups = new Map<string, Command>();
  for (const spec of specs) {
    let parent = program;
    for (const [i, part] of spec.path.slice(0, -1).entries()) {
      const key = spec.path.slice(0, i + 1).join(' ');
      let group = groups.get(key);
      if (!group) {
        group = parent.command(part).description(`${part} commands`);
        groups.set(key, group);
      }
      parent = group;
    }
    const leaf = parent.command(spec.path.at(-1)!).description(spec.summary);
    spec.configure?.(leaf);
    leaf.action(async (...all: unknown[]) => {
      const cmd = all.at(-1) as Command;
      const args = cmd.args.slice(0, cmd.registeredArguments.length).map(String);
      await invoke(spec, cmd.registeredArguments.some((a) => a.variadic) ? cmd.args.map(String) : args, cmd.optsWithGlobals(), spec.path.join(' '));
    });
  }
  return program;
}
