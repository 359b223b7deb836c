/**
 * One APP request: `API-Version: 0.1d`, JSON or form body, an optional
 * bearer token, bounded in size (MAX_APP_BODY_BYTES), time (the fetcher's
 * deadlines) and depth (tooDeepAt), the answer parsed with the caller's zod
 * schema. A 429 is retried after its Retry-After (at most 3 times, at most
 * 10 s each); any error envelope becomes an AgentprovError (errors.ts).
 */
import type * as z from 'zod';
import type { Fetcher } from '../../http/fetch.js';
import { FetchError, header } from '../../http/fetch.js';
import { tooDeepAt } from '../../util/json-depth.js';
import { APP_VERSION, AppErrorBody, appError, MAX_APP_BODY_BYTES } from '../../wire/app.js';
import { AgentprovError } from '../../core/errors.js';
import { appFailure, clean, invalidAppResponse } from './errors.js';

export const DEADLINE_MS = 15_000;
const MAX_429_RETRIES = 3;
export const MAX_RETRY_AFTER_S = 10;

export interface AppCall<T> {
  provider: string;
  base: string;
  step: string;
  method: 'GET' | 'POST';
  path: string;
  json?: unknown;
  form?: Record<string, string>;
  bearer?: string;
  schema: z.ZodType<T>;
  sleep?: (ms: number) => Promise<void>;
}

export async function appRequest<T>(fetcher: Fetcher, call: AppCall<T>): Promise<{ status: number; body: T }> {
  const url = new URL(call.path, call.base);
  // One origin per provider (docs/protocol.md §0.1): a path can never leave the base URL's origin.
  if (url.origin !== new URL(call.base).origin) throw invalidAppResponse(call.provider, call.step, 'path', 'off the provider origin');
  const headers: Record<string, string> = { 'api-version': APP_VERSION, accept: 'application/json' };
  let body: string | undefined;
  if (call.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(call.json);
  } else if (call.form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams(call.form).toString();
  }
  if (call.bearer) headers.authorization = `Bearer ${call.bearer}`;
  const sleep = call.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetcher.request(url.href, { method: call.method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(DEADLINE_MS), maxBytes: MAX_APP_BODY_BYTES });
    } catch (err) {
      if (err instanceof FetchError && err.reason === 'too_large') throw invalidAppResponse(call.provider, call.step, 'body', `larger than ${MAX_APP_BODY_BYTES} bytes`);
      throw new AgentprovError('PROVIDER_UNREACHABLE', `provider ${call.provider} (${call.step}): ${clean((err as Error).message)}`, { details: { provider: call.provider, step: call.step, retryable: true } });
    }
    const raw = parseJson(res.body);
    if (res.status === 429) {
      const after = retryAfterSeconds(header(res.headers, 'retry-after'));
      if (attempt < MAX_429_RETRIES && after <= MAX_RETRY_AFTER_S) {
        await sleep(after * 1000);
        continue;
      }
      // The provider's own envelope when it sent one (its message reaches the agent, cleaned).
      const e = envelope(raw);
      throw appFailure(call.provider, call.step, 429, e?.code ?? 'rate_limited', e?.message || 'rate limited', after);
    }
    if (res.status < 200 || res.status >= 300) {
      const e = envelope(raw);
      throw appFailure(call.provider, call.step, res.status, e?.code, e?.message ?? '');
    }
    if (raw === undefined) throw invalidAppResponse(call.provider, call.step, 'body', 'not JSON');
    const deep = tooDeepAt(raw);
    if (deep) throw invalidAppResponse(call.provider, call.step, deep, 'nested too deeply');
    const parsed = call.schema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalidAppResponse(call.provider, call.step, issue?.path.join('.') || '(root)', issue?.message ?? 'does not match');
    }
    return { status: res.status, body: parsed.data };
  }
}

function envelope(raw: unknown): { code: string; message: string } | undefined {
  const env = raw !== undefined && tooDeepAt(raw) === undefined ? AppErrorBody.safeParse(raw) : undefined;
  return env?.success ? appError(env.data) : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds (delta or HTTP date), at least 1; unreadable → 1. */
export function retryAfterSeconds(value: string | undefined): number {
  if (!value) return 1;
  if (/^\d{1,6}$/.test(value.trim())) return Math.max(1, Number(value.trim()));
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(1, Math.ceil((at - Date.now()) / 1000)) : 1;
}
