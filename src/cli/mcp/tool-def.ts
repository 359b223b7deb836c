/** What a tool of `agentprov mcp` is (tools.ts, lifecycle-tools.ts list them). */
import type { z } from 'zod';
import type { Deps } from '../../core/deps.js';
import type { CommandResult } from '../output.js';

/** A command module (program.ts's CommandModule, named here: the command table itself lists `mcp`). */
export interface CommandModule {
  run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult>;
}

/** One flag of the command: the tool argument it comes from and how its value is written. */
export interface Flag {
  arg: string;
  /** commander's attribute name. */
  opt: string;
  kind: 'bool' | 'string' | 'json' | 'number' | 'list';
}

export interface ToolDef {
  name: string;
  /** The command, as `agentprov <path>` on the command line. */
  path: string[];
  description: string;
  input: z.ZodRawShape;
  /** Tool arguments that are the command's operands, in order (`words` ones are split on spaces). */
  positional: Array<{ arg: string; words?: boolean }>;
  /** Operands the command always gets first (`budget show`). */
  fixed?: string[];
  /** Options the command always gets (`login`: the device flow, no browser of this process). */
  always?: Record<string, unknown>;
  flags: Record<string, Flag>;
  readOnly: boolean;
  destructive?: boolean;
  load: () => Promise<CommandModule>;
}

export const flag = (arg: string, opt: string, kind: Flag['kind'] = 'bool'): Flag => ({ arg, opt, kind });
