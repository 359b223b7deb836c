/**
 * The two readers of agentprov's output (README, "Exit codes"): an agent gets exactly
 * one JSON envelope on stdout with --json; a human gets prose and tables on a
 * terminal, and the bare value when stdout is piped.
 */
import { createRequire } from 'node:module';
import type { AgentprovError } from '../core/errors.js';
import type { IO } from '../core/io.js';
import type { EnvelopeContext, EnvelopeMeta } from './meta.js';

/** One thing that stands in the way, as `--preflight` reports it: a code and what the human or agent can do about it. */
export interface Blocker {
  code: string;
  message: string;
  remedy: string;
}

export interface CommandResult<T = unknown> {
  data: T;
  warnings?: string[];
  nextSteps?: string[];
  /**
   * What a human sees on stdout (prose or a table). Defaults to pretty JSON.
   * May be a getter: it is read only when that output is chosen, so a large
   * listing under --json never renders its table.
   */
  human?: string;
  /** The single value printed when stdout is not a terminal (e.g. `token`). May be a getter, like `human`. */
  bare?: string;
  /**
   * The JSON text of `data`, when the command has it serialized already
   * (`catalog --json` copies its cached services): --json prints it in place
   * of JSON.stringify(data), which it must equal. `data` may then be a getter.
   */
  dataJson?: () => string;
  /** The command already printed its one document (long-running commands). */
  printed?: boolean;
  /**
   * The process exit code when it is not 0 on success (`run` returns its
   * child's). main.ts is still the only place that turns it into the code.
   */
  exitCode?: number;
  /**
   * Values this command prints on purpose although the redactor knows them
   * (`token`'s short-lived token). Masked everywhere else; every other
   * secret in this output stays masked.
   */
  reveal?: string[];
}

export interface SuccessEnvelope<T = unknown> {
  ok: true;
  command: string;
  data: T;
  warnings: string[];
  next_steps: string[];
  /** agentprov's version (issue 20). */
  version?: string;
  meta?: EnvelopeMeta;
}

export interface ErrorEnvelope {
  ok: false;
  command: string;
  error: { code: string; message: string; details: Record<string, unknown> };
  warnings: string[];
  next_steps: string[];
  version?: string;
  meta?: EnvelopeMeta;
}

export function successEnvelope<T>(command: string, result: CommandResult<T>, ctx?: EnvelopeContext): SuccessEnvelope<T> {
  return { ok: true, command, data: result.data, warnings: result.warnings ?? [], next_steps: result.nextSteps ?? [], ...ctx };
}

export function errorEnvelope(command: string, err: AgentprovError, warnings: string[] = [], ctx?: EnvelopeContext): ErrorEnvelope {
  return {
    ok: false,
    command,
    error: { code: err.code, message: err.message, details: err.details },
    warnings,
    next_steps: err.nextSteps,
    ...ctx,
  };
}

export function renderSuccess(io: IO, json: boolean, command: string, result: CommandResult, ctx?: () => EnvelopeContext): void {
  if (result.printed) return;
  const out = revealing(io, result.reveal);
  if (json) {
    if (result.dataJson) {
      // Same document, same key order as successEnvelope.
      const rest = JSON.stringify({ warnings: result.warnings ?? [], next_steps: result.nextSteps ?? [], ...ctx?.() });
      out(`{"ok":true,"command":${JSON.stringify(command)},"data":${result.dataJson()},${rest.slice(1)}\n`);
      return;
    }
    out(JSON.stringify(successEnvelope(command, result, ctx?.())) + '\n');
    return;
  }
  for (const w of result.warnings ?? []) io.err(`warning: ${w}\n`);
  const bare = io.stdoutIsTTY ? undefined : result.bare;
  if (bare !== undefined) {
    out(bare + '\n');
    return;
  }
  const text = result.human ?? JSON.stringify(result.data, null, 2);
  if (text) out(text.endsWith('\n') ? text : text + '\n');
  if (result.nextSteps?.length && io.stderrIsTTY) io.err(`next: ${result.nextSteps.join('\n      ')}\n`);
}

/**
 * io.out, except that the `reveal` values survive the redactor: each is
 * swapped for a random placeholder, the text is redacted (so every other
 * known secret is masked), and the placeholders are swapped back.
 */
function revealing(io: IO, reveal: string[] | undefined): (text: string) => void {
  const values = (reveal ?? []).filter((v) => v.length > 0);
  if (!values.length) return (text) => io.out(text);
  return (text) => {
    // node:crypto only here (`token`), off every other command's start-up path.
    const { randomBytes } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    const nonce = randomBytes(12).toString('hex');
    let t = text;
    values.forEach((v, i) => (t = t.split(v).join(`\u0001${nonce}:${i}\u0001`)));
    t = io.redactor.redact(t);
    values.forEach((v, i) => (t = t.split(`\u0001${nonce}:${i}\u0001`).join(v)));
    io.stdout.write(t);
  };
}

export function renderError(io: IO, json: boolean, command: string, err: AgentprovError, ctx?: () => EnvelopeContext): void {
  if (json) {
    io.out(JSON.stringify(errorEnvelope(command, err, [], ctx?.())) + '\n');
    return;
  }
  io.err(`error [${err.code}]: ${err.message}\n`);
  for (const step of err.nextSteps) io.err(`  → ${step}\n`);
}
