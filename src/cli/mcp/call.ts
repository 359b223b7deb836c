/**
 * One tool call: the command's own `run(deps, args, opts)` with the Deps of
 * a `--json --no-input` run (no prompt, no browser) whose IO captures what
 * the command prints, and its result or error as the CLI's JSON envelope
 * (src/cli/output.ts) plus `next_call`. There is no second implementation of
 * any command here: only how its arguments arrive and its output leaves.
 */
import type { ChildProcess, spawn as spawnType } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { IO, Redactor } from '../../core/io.js';
import { createDeps, type Deps } from '../deps.js';
import { envelopeContext } from '../meta.js';
import { errorEnvelope, successEnvelope, type CommandResult } from '../output.js';
import { toCommand, toToolCall } from './tool-calls.js';
import type { ToolDef } from './tools.js';

/** At most this much of a `run` command's output comes back (its tail is kept). */
export const RUN_OUTPUT_LIMIT = 64 * 1024;
export const RUN_TIMEOUT_SECONDS = 120;

export interface CallOutcome {
  envelope: Record<string, unknown>;
  error?: AgentprovError;
}

/** A bounded text buffer: keeps the last `limit` characters and says whether it dropped any. */
class Tail {
  text = '';
  dropped = false;
  constructor(private readonly limit: number) {}
  push(t: string): void {
    this.text += t;
    if (this.text.length > this.limit) {
      this.text = this.text.slice(this.text.length - this.limit);
      this.dropped = true;
    }
  }
}

function captureIO(redactor: Redactor, log: (text: string) => void, captured: Tail | undefined): IO {
  const sink = new PassThrough();
  sink.resume();
  return {
    stdout: sink,
    stderr: sink,
    stdin: new PassThrough(),
    stdoutIsTTY: false,
    stderrIsTTY: false,
    stdinIsTTY: false,
    columns: 80,
    color: false,
    redactor,
    // Nothing a command prints reaches the protocol stream: a command's own talk is a log line (stderr), `run`'s child output is the tool's result.
    out: (text) => (captured ? captured.push(redactor.redact(text)) : log(redactor.redact(text))),
    err: (text) => (captured ? captured.push(redactor.redact(text)) : log(redactor.redact(text))),
  };
}

export async function callTool(tool: ToolDef, a: Record<string, unknown>, ctx: { env: NodeJS.ProcessEnv; cwd: string; redactor: Redactor; log: (text: string) => void }): Promise<CallOutcome> {
  const command = tool.path.join(' ');
  const isRun = tool.name === 'run';
  const output = isRun ? new Tail(RUN_OUTPUT_LIMIT) : undefined;
  const io = captureIO(ctx.redactor, ctx.log, output);
  const { args: operands, opts } = toCommand(tool, a);
  const args = isRun ? [String(a.command), ...(Array.isArray(a.args) ? a.args.map(String) : [])] : operands;
  const children: ChildProcess[] = [];
  const base = createDeps({ json: true, input: false, verbose: false }, ctx.env, io, isRun ? ['run', '--json', '--', ...args] : [...tool.path, ...args, '--json']);
  const deps: Deps = {
    ...base,
    cwd: ctx.cwd,
    canPrompt: () => false,
    browser: { available: async () => false, open: async () => false },
    // stdin is the protocol stream: a child must never read it.
    spawn: ((cmd: string, argv: readonly string[], options: Parameters<typeof spawnType>[2]) => {
      const stdio = Array.isArray(options?.stdio) ? ['ignore', ...options.stdio.slice(1)] : ['ignore', 'pipe', 'pipe'];
      const child = base.spawn(cmd, argv, { ...options, stdio } as Parameters<typeof spawnType>[2]);
      children.push(child);
      return child;
    }) as typeof spawnType,
  };
  let timedOut = false;
  const timeoutSeconds = typeof a.timeout_seconds === 'number' ? a.timeout_seconds : RUN_TIMEOUT_SECONDS;
  const timer = isRun
    ? setTimeout(() => {
        timedOut = true;
        for (const c of children) c.kill('SIGTERM');
        setTimeout(() => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL')), 5_000).unref();
      }, timeoutSeconds * 1000)
    : undefined;
  try {
    const mod = await tool.load();
    const result: CommandResult = await mod.run(deps, args, opts);
    const env = successEnvelope(command, result, envelopeContext(ctx.env, ctx.cwd)) as unknown as Record<string, unknown>;
    if (output) env.data = { ...(env.data as object), output: output.text, output_truncated: output.dropped, timed_out: timedOut };
    return { envelope: withNextCall(env, result.nextSteps ?? []) };
  } catch (err) {
    const e = await asAgentprovError(err, ctx.env);
    const env = errorEnvelope(command, e, [], envelopeContext(ctx.env, ctx.cwd)) as unknown as Record<string, unknown>;
    if (output) env.error = { ...(env.error as object), details: { ...e.details, output: output.text, output_truncated: output.dropped, timed_out: timedOut } };
    return { envelope: withNextCall(env, e.nextSteps), error: e };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** The first next step a tool can make, as a call (`next_call`); the others stay prose in next_steps. */
function withNextCall(env: Record<string, unknown>, nextSteps: string[]): Record<string, unknown> {
  for (const step of nextSteps) {
    const call = toToolCall(step);
    if (call) return { ...env, next_call: call };
  }
  return env;
}

/** What main.ts makes of a failure, for a front end that is not main. */
async function asAgentprovError(err: unknown, env: NodeJS.ProcessEnv): Promise<AgentprovError> {
  if (isAgentprovError(err)) return err;
  const { notWritable } = await import('../../util/not-writable.js');
  const e = err as Error;
  return notWritable(err, undefined, env) ?? new AgentprovError('INTERNAL', `unexpected failure: ${e?.message ?? String(err)}`, { details: { name: e?.name } });
}
