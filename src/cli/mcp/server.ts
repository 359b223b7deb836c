/**
 * `agentprov mcp`: the commands of src/cli/mcp/tools.ts as MCP tools over
 * stdio (@modelcontextprotocol/sdk, its current protocol revision). Each
 * result is the CLI's JSON envelope as `structuredContent` (and as text);
 * a failure is `isError: true` with the same stable error code. A step that
 * needs the human (the CLI's exit-3 errors) carries the verification URL and
 * code in `error.details` and the call to make once the human is done in
 * `next_call`; a client that declares URL-mode elicitation is asked to show
 * the URL instead, and the call then continues by itself. `NOT_SIGNED_IN`
 * starts the device sign-in at once, so the agent has a URL to show.
 *
 * Nothing a command prints reaches stdout, which is the protocol stream: it
 * is logged on stderr. Every byte of the stream passes through the process's
 * redactor, which knows every secret any call has seen. Calls run one at a
 * time (one vault, one journal, one manifest).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { EXIT, exitCodeFor } from '../../core/errors.js';
import { Redactor } from '../../core/io.js';
import { VERSION } from '../meta.js';
import { callTool, type CallOutcome } from './call.js';
import { TOOLS, type ToolDef } from './tools.js';

/** The envelope, success or error, as every tool's output schema. */
const Envelope = {
  ok: z.boolean(),
  command: z.string(),
  data: z.unknown().optional(),
  error: z.object({ code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()) }).optional(),
  warnings: z.array(z.string()),
  next_steps: z.array(z.string()),
  next_call: z.object({ tool: z.string(), arguments: z.record(z.string(), z.unknown()) }).optional(),
  then_call: z.object({ tool: z.string(), arguments: z.record(z.string(), z.unknown()) }).optional(),
  version: z.string(),
  meta: z.object({ signed_in: z.boolean(), project: z.string().nullable() }),
};

/** How many human steps one call may walk through with URL elicitation before it hands back to the agent. */
const MAX_ELICITED_STEPS = 3;
const ELICITED_WAIT_SECONDS = 300;

export interface McpOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  log: (text: string) => void;
}

export async function serveMcp(o: McpOptions): Promise<void> {
  const redactor = new Redactor();
  const server = new McpServer(
    { name: 'agentprov', version: VERSION },
    {
      instructions:
        'agentprov provisions services for the signed-in human with short-lived credentials only. Workflow: catalog (compact) → add → run. A result with isError and a verification URL needs the human: show them the URL and code, then make next_call. Pass accept_tos, confirm_paid_service and max_price only with the human\'s yes. No tool returns a secret.',
    },
  );
  const ctx = { env: o.env, cwd: o.cwd, redactor, log: o.log };
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn);
    queue = next.catch(() => undefined);
    return next;
  };
  const byName = new Map(TOOLS.map((t) => [t.name, t]));

  const elicitUrl = async (outcome: CallOutcome): Promise<boolean> => {
    const d = outcome.error?.details ?? {};
    const url = typeof d.verification_uri_complete === 'string' ? d.verification_uri_complete : typeof d.verification_uri === 'string' ? d.verification_uri : undefined;
    if (!url || !server.server.getClientCapabilities()?.elicitation?.url) return false;
    const code = typeof d.user_code === 'string' ? ` and enter the code ${d.user_code}` : '';
    try {
      const answer = await server.server.elicitInput({ mode: 'url', elicitationId: randomUUID(), url, message: `${outcome.error!.message.split(':')[0]}: open the page${code}.` });
      return answer.action === 'accept';
    } catch (err) {
      o.log(`agentprov mcp: elicitation failed: ${(err as Error).message}\n`);
      return false;
    }
  };

  const handle = async (tool: ToolDef, args: Record<string, unknown>): Promise<CallToolResult> => {
    let outcome = await callTool(tool, args, ctx);
    for (let step = 0; outcome.error && step < MAX_ELICITED_STEPS; step++) {
      outcome = await startSignInWhenNeeded(tool, args, outcome);
      if (!outcome.error || exitCodeFor(outcome.error.code) !== EXIT.HUMAN_ACTION || !(await elicitUrl(outcome))) break;
      // The human has the page open: finish that step (waiting for them), then the call itself again.
      const next = outcome.envelope.next_call as { tool: string; arguments: Record<string, unknown> } | undefined;
      const finisher = next && byName.get(next.tool);
      if (finisher && next.tool !== tool.name) {
        const done = await callTool(finisher, { ...next.arguments, wait_seconds: ELICITED_WAIT_SECONDS }, ctx);
        if (done.error) return toResult(done);
        outcome = await callTool(tool, args, ctx);
      } else {
        outcome = await callTool(tool, { ...(next?.arguments ?? args), complete: true, wait_seconds: ELICITED_WAIT_SECONDS }, ctx);
      }
    }
    return toResult(outcome);
  };

  /** NOT_SIGNED_IN: start the device sign-in now (login's own code), so the error carries the URL and code to show. */
  const startSignInWhenNeeded = async (tool: ToolDef, args: Record<string, unknown>, outcome: CallOutcome): Promise<CallOutcome> => {
    if (outcome.error?.code !== 'NOT_SIGNED_IN' || tool.name === 'login') return outcome;
    const login = await callTool(byName.get('login')!, { device: true }, ctx);
    if (login.error?.code !== 'AUTHORIZATION_PENDING') return outcome;
    const env = outcome.envelope;
    const error = env.error as { details: Record<string, unknown> };
    return {
      error: Object.assign(outcome.error, { details: { ...outcome.error.details, ...login.error.details } }),
      envelope: { ...env, error: { ...error, details: { ...error.details, ...login.error.details } }, next_call: { tool: 'login', arguments: { complete: true } }, then_call: { tool: tool.name, arguments: args } },
    };
  };

  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      {
        description: tool.description,
        inputSchema: tool.input,
        outputSchema: Envelope,
        annotations: { readOnlyHint: tool.readOnly, destructiveHint: Boolean(tool.destructive), openWorldHint: true },
      },
      (args: Record<string, unknown>) => serial(() => handle(tool, args)),
    );
  }

  // The protocol stream, through the redactor: a secret any call has seen is masked even here.
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      o.stdout.write(redactor.redact(chunk.toString('utf8')), () => cb());
    },
  });
  const transport = new StdioServerTransport(o.stdin as never, stdout);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    o.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  o.log(`agentprov mcp ${VERSION}: serving ${TOOLS.length} tools on stdio\n`);
  await closed;
  await server.close().catch(() => undefined);
}

function toResult(outcome: CallOutcome): CallToolResult {
  const env = outcome.envelope;
  const text = outcome.error ? humanText(outcome) + '\n' + JSON.stringify(env) : JSON.stringify(env);
  return { content: [{ type: 'text', text }], structuredContent: env, ...(outcome.error ? { isError: true } : {}) };
}

/** One line an agent reads first: the code, the message, the call to make. */
function humanText(outcome: CallOutcome): string {
  const e = outcome.error!;
  const next = outcome.envelope.next_call as { tool: string; arguments: unknown } | undefined;
  const human = exitCodeFor(e.code) === EXIT.HUMAN_ACTION ? ' (the human must act)' : '';
  return `error [${e.code}]${human}: ${e.message}${next ? `\nnext call: ${next.tool} ${JSON.stringify(next.arguments)}` : ''}`;
}
