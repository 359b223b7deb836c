/**
 * The Cloudflare SDK client agentprov uses: the tree-shakable client with only
 * the resources below, bound to ONE API base URL (the one a parent token was
 * verified at, stored in the link) and ONE token. Nothing is read from the
 * environment (the SDK would otherwise pick up CLOUDFLARE_API_TOKEN,
 * CLOUDFLARE_BASE_URL, CLOUDFLARE_API_KEY, …), the SDK logs nothing, and every
 * request goes through a bounded fetch:
 *
 * - only to the linked base URL (origin and path prefix), redirects never
 *   followed (a token is never replayed to another host);
 * - the response body capped while it streams in;
 * - 429/5xx are retried by the SDK (maxRetries 3) honouring Retry-After, but
 *   a Retry-After above MAX_RETRY_AFTER_S is not waited for: the call fails
 *   at once with details.retry_after, so one call never hangs;
 * - each attempt times out after ATTEMPT_TIMEOUT_MS and each call after
 *   CALL_DEADLINE_MS (its AbortSignal).
 *
 * Non-idempotent creates (tokens, registrations, namespaces, buckets,
 * databases) go through `once`: no automatic retry of a request that may have
 * been applied (Cloudflare has no idempotency keys), only of a 429, which
 * Cloudflare refused before doing anything.
 *
 * The SDK validates nothing it receives: `parsed` runs every result through
 * zod, and a mismatch is INVALID_PROVIDER_RESPONSE naming the call and field.
 */
import { createClient } from 'cloudflare/tree-shakable';
import { BaseAccounts } from 'cloudflare/resources/accounts/accounts';
import { BasePermissionGroups as BaseAccountPermissionGroups } from 'cloudflare/resources/accounts/tokens/permission-groups';
import { BaseTokens as BaseAccountTokens } from 'cloudflare/resources/accounts/tokens/tokens';
import { BaseValue as BaseAccountTokenValue } from 'cloudflare/resources/accounts/tokens/value';
import { BaseDatabase } from 'cloudflare/resources/d1/database/database';
import { BaseNamespaces } from 'cloudflare/resources/kv/namespaces/namespaces';
import { BaseBuckets } from 'cloudflare/resources/r2/buckets/buckets';
import { BaseRegistrar } from 'cloudflare/resources/registrar/registrar';
import { BaseRegistrationStatus } from 'cloudflare/resources/registrar/registration-status';
import { BaseRegistrations } from 'cloudflare/resources/registrar/registrations';
import { BasePermissionGroups as BaseUserPermissionGroups } from 'cloudflare/resources/user/tokens/permission-groups';
import { BaseTokens as BaseUserTokens } from 'cloudflare/resources/user/tokens/tokens';
import { BaseValue as BaseUserTokenValue } from 'cloudflare/resources/user/tokens/value';
import { BaseScripts } from 'cloudflare/resources/workers/scripts/scripts';
import type { z } from 'zod';
import { AgentprovError } from '../../core/errors.js';
import type { Redactor } from '../../core/io.js';
import { isLoopbackHost } from '../../util/loopback.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { BoundedFetchError, cloudflareError, invalidResponse, isNotFound, REFUSED_HEADER, retryAfterSeconds, statusOf } from './errors.js';
import { webFetch } from '../../http/web-fetch.js';

export const DEFAULT_API_URL = 'https://api.cloudflare.com/client/v4';
/** Overrides the default base URL for `providers link` (tests, a local double); `--api-url` wins. */
export const API_URL_ENV = 'AGENTPROV_CLOUDFLARE_API_URL';

export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
export const MAX_RETRIES = 3;
export const MAX_RETRY_AFTER_S = 8;
export const ATTEMPT_TIMEOUT_MS = 15_000;
export const CALL_DEADLINE_MS = 30_000;
/** Largest number of items read from one paged list before giving up (never "absent" on a partial read). */
export const MAX_LIST_ITEMS = 5000;

const RESOURCES = [
  BaseUserTokens,
  BaseUserPermissionGroups,
  BaseUserTokenValue,
  BaseAccounts,
  BaseAccountTokens,
  BaseAccountPermissionGroups,
  BaseAccountTokenValue,
  BaseRegistrar,
  BaseRegistrations,
  BaseRegistrationStatus,
  BaseNamespaces,
  BaseBuckets,
  BaseDatabase,
  BaseScripts,
] as const;

function build(apiUrl: string, token: string) {
  return createClient({
    resources: RESOURCES,
    baseURL: apiUrl,
    apiToken: token,
    apiKey: null,
    apiEmail: null,
    userServiceKey: null,
    maxRetries: MAX_RETRIES,
    timeout: ATTEMPT_TIMEOUT_MS,
    logLevel: 'off',
    fetch: boundedFetch(new URL(apiUrl)),
  });
}

export type CloudflareClient = ReturnType<typeof build>;

export interface ClientContext {
  client: CloudflareClient;
  apiUrl: string;
  redactor: Redactor;
}

/** A client for `token` at `apiUrl` (already validated with `checkApiUrl`). The token is taught to the redactor first. */
export function cloudflareClient(apiUrl: string, token: string, redactor: Redactor): ClientContext {
  redactor.add(token);
  return { client: build(apiUrl, token), apiUrl, redactor };
}

/**
 * The API base URL rule: https, or http on loopback only (tests, a local
 * double); no userinfo, query or fragment. Returned without a trailing slash.
 */
export function checkApiUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw apiUrlUsage(undefined, 'is not a URL');
  }
  if (url.username || url.password) throw apiUrlUsage(url, 'must not carry a user name or password');
  if (url.search || url.hash) throw apiUrlUsage(url, 'must not carry a query or fragment');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    throw apiUrlUsage(url, 'must be https (plain http only on loopback)');
  }
  return url.href.replace(/\/+$/, '');
}

/** A refused API URL is shown as its origin and path only: a user name, password, query or fragment may hold a secret. */
function apiUrlUsage(url: URL | undefined, why: string): AgentprovError {
  const shown = url ? sanitizeLine(`${url.origin}${url.pathname}`).slice(0, 200) : '(unparseable)';
  return new AgentprovError('USAGE', `the Cloudflare API URL ${url ? `"${shown}" ` : ''}${why}`, {
    details: { api_url: shown },
    nextSteps: [`omit --api-url to use ${DEFAULT_API_URL}`],
  });
}

/** Per-call options: the whole call (retries included) ends by CALL_DEADLINE_MS. */
export function callOptions(extra: { maxRetries?: number; headers?: Record<string, string> } = {}) {
  return { signal: AbortSignal.timeout(CALL_DEADLINE_MS), ...extra };
}

/** Await an SDK call and parse its result with `schema`; every failure is an AgentprovError. */
export async function parsed<S extends z.ZodType>(ctx: Pick<ClientContext, 'redactor'>, call: string, schema: S, request: () => PromiseLike<unknown>): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await request();
  } catch (err) {
    throw cloudflareError(err, call, ctx.redactor);
  }
  return parseResult(ctx, call, schema, raw);
}

/** A request whose 404 means "not there": its answer, or undefined; any other failure is the call's error. */
export async function orAbsent<T>(ctx: Pick<ClientContext, 'redactor'>, call: string, request: () => PromiseLike<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw cloudflareError(err, call, ctx.redactor);
  }
}

export function parseResult<S extends z.ZodType>(ctx: Pick<ClientContext, 'redactor'>, call: string, schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? issue.path.join('.') : 'result';
  const err = invalidResponse(call, `field "${field}": ${issue?.message ?? 'invalid'}`, ctx.redactor);
  err.details.field = sanitizeLine(field).slice(0, 100);
  throw err;
}

/**
 * A request that must not be repeated blindly (a create): sent with the SDK's
 * retries off; only a 429 (refused before anything happened) is sent again,
 * after its Retry-After, at most MAX_RETRIES times. Other errors are thrown
 * as they are (SDK errors): the caller maps them.
 */
export async function once<T>(send: (opts: ReturnType<typeof callOptions>) => PromiseLike<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send(callOptions({ maxRetries: 0 }));
    } catch (err) {
      if (statusOf(err) !== 429 || attempt >= MAX_RETRIES) throw err;
      const wait = retryAfterSeconds((err as { headers?: Headers }).headers?.get('retry-after'));
      if (wait !== undefined && wait > MAX_RETRY_AFTER_S) throw err;
      await new Promise((r) => setTimeout(r, (wait ?? 2 ** attempt) * 1000));
    }
  }
}

/** Items of a paged list, at most `max`; more is an error (a lookup must never conclude "absent" from a partial read). */
export async function collect<T>(ctx: Pick<ClientContext, 'redactor'>, call: string, list: () => AsyncIterable<T>, max = MAX_LIST_ITEMS): Promise<T[]> {
  const items: T[] = [];
  try {
    for await (const item of list()) {
      if (items.length >= max) {
        throw new AgentprovError('PROVIDER_ERROR', `provider cloudflare lists more than ${max} items for ${call}; agentprov reads no further`, {
          details: { provider: 'cloudflare', call, max },
        });
      }
      items.push(item);
    }
  } catch (err) {
    throw cloudflareError(err, call, ctx.redactor);
  }
  return items;
}

// ---- the bounded fetch --------------------------------------------------------

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);

function boundedFetch(base: URL): Fetch {
  const prefix = base.pathname.replace(/\/+$/, '');
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const onBase = url.origin === base.origin && (url.pathname === prefix || url.pathname.startsWith(`${prefix}/`));
    if (!onBase) return refused('off_origin', `refusing to send the token to ${url.origin}${url.pathname.slice(0, 64)}: not the linked API ${base.origin}${prefix}`);
    const res = await webFetch(input, { ...init, redirect: 'manual' });
    const length = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(length) && length > MAX_RESPONSE_BYTES) {
      await res.body?.cancel().catch(() => undefined);
      return refused('too_large', `a response of ${length} bytes (more than ${MAX_RESPONSE_BYTES})`);
    }
    const headers = new Headers(res.headers);
    if (res.status >= 300 && res.status < 400) {
      // Never followed: the SDK reports the status as an error.
      headers.set('x-should-retry', 'false');
    } else if (res.status === 429 || res.status >= 500) {
      const wait = retryAfterSeconds(headers.get('retry-after'));
      if (wait !== undefined && wait > MAX_RETRY_AFTER_S) headers.set('x-should-retry', 'false');
      headers.delete('retry-after-ms');
    }
    const body = NULL_BODY_STATUS.has(res.status) || !res.body ? null : limited(res.body, MAX_RESPONSE_BYTES);
    return new Response(body, { status: res.status, statusText: res.statusText, headers });
  };
}

/**
 * Our own refusal, as a response the SDK turns into an APIError without
 * retrying it (a thrown error would count as a connection failure and be
 * retried); errors.ts recognises it by REFUSED_HEADER.
 */
function refused(reason: BoundedFetchError['reason'], message: string): Response {
  return new Response(JSON.stringify({ success: false, errors: [{ message }], messages: [], result: null }), {
    status: 502,
    headers: { 'content-type': 'application/json', 'x-should-retry': 'false', [REFUSED_HEADER]: reason },
  });
}

function limited(body: ReadableStream<Uint8Array>, max: number): ReadableStream<Uint8Array> {
  let seen = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > max) controller.error(new BoundedFetchError(`a response larger than ${max} bytes`, 'too_large'));
        else controller.enqueue(chunk);
      },
    }),
  );
}
