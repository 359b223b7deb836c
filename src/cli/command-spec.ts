/** What an entry of the command table is (src/cli/program.ts) and what a command module exports. */
import type { Command } from 'commander';
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
