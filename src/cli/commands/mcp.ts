/**
 * `agentprov mcp`: an MCP server on stdin/stdout for agents that speak the
 * Model Context Protocol; it serves until the client closes the stream.
 * Each tool calls the command of the same name (src/cli/mcp/). Logs go to
 * stderr; stdout is the protocol stream.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, _args: string[], _opts: Record<string, unknown>): Promise<CommandResult> {
  const { serveMcp } = await import('../mcp/server.js');
  await serveMcp({ env: deps.env, cwd: deps.cwd, stdin: deps.io.stdin, stdout: deps.io.stdout, log: (text) => deps.io.err(text) });
  return { data: null, printed: true };
}
