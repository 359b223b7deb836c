/**
 * The provisioning API (docs/protocol.md §4) over the bounded fetcher:
 * create with an `Idempotency-Key`, read, delete. Every answer is size-,
 * time- and schema-bounded, and mapped to the codes of src/core/errors.ts (§8 of the
 * protocol: usage errors, money refusals, provider failures). Failures that
 * may be retried with the same key say so with `details.retryable: true`.
 */
import { AgentprovError } from '../../core/errors.js';
import { FetchError, type Fetcher, type HttpResponse } from '../../http/fetch.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../../util/json-depth.js';
import {
  DeepLinkSchema,
  IdempotencyKeySchema,
  ProviderErrorBodySchema,
  ProvisionDeletedSchema,
  ProvisionSchema,
  type DeepLink,
  type Provision,
} from '../../wire/provider.js';
import type { ProvisionInput, UpdateInput } from '../provider.js';
import { clean, invalidResponse, unreachable } from './errors.js';

export const PROVISIONING_DEADLINE_MS = 30_000;
const MAX_RESPONSE_BYTES = 256 * 1024;

export interface ProvisioningContext {
  provider: string;
  endpoint: string;
  fetcher: Fetcher;
  /** A valid access token; `force` refreshes even a token that looks fresh (the provider refused it). */
  accessToken(force?: boolean): Promise<string>;
}

type Call = { method: 'GET' | 'POST' | 'DELETE'; url: string; body?: string; headers?: Record<string, string> };

/** Sends with the current access token; a 401 refreshes it once and sends again (safe: POSTs carry their Idempotency-Key). */
async function send(ctx: ProvisioningContext, call: Call): Promise<HttpResponse> {
  let token = await ctx.accessToken();
  for (let attempt = 0; ; attempt++) {
    let res: HttpResponse;
    try {
      res = await ctx.fetcher.request(call.url, {
        method: call.method,
        headers: { authorization: `Bearer ${token}`, ...call.headers },
        ...(call.body !== undefined ? { body: call.body } : {}),
        signal: AbortSignal.timeout(PROVISIONING_DEADLINE_MS),
        maxBytes: MAX_RESPONSE_BYTES,
      });
    } catch (err) {
      if (err instanceof FetchError && err.reason === 'too_large') throw invalidResponse(ctx.provider, 'provisioning', err.message);
      throw unreachable(ctx.provider, 'provisioning', err);
    }
    if (res.status !== 401 || attempt > 0) return res;
    token = await ctx.accessToken(true);
  }
}

/** The answer's JSON (undefined when it is not JSON); INVALID_PROVIDER_RESPONSE when it nests too deeply for anything to look at it. */
function json(provider: string, res: HttpResponse): unknown {
  let value: unknown;
  try {
    value = JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
  const deep = tooDeepAt(value);
  if (deep !== undefined) {
    throw invalidResponse(provider, 'provisioning', `HTTP ${res.status} body, field "${clean(deep, 80)}": nested deeper than ${MAX_JSON_DEPTH} levels`, { status: res.status });
  }
  return value;
}

/** A non-success answer as an AgentprovError. */
export function provisioningError(provider: string, res: HttpResponse): AgentprovError {
  let body: unknown;
  try {
    body = json(provider, res);
  } catch (err) {
    if (err instanceof AgentprovError) return err;
    throw err;
  }
  const parsed = ProviderErrorBodySchema.safeParse(body);
  const status = res.status;
  const retryAfter = typeof res.headers['retry-after'] === 'string' ? clean(res.headers['retry-after'], 32) : undefined;
  if (!parsed.success) {
    if (status >= 500) {
      return new AgentprovError('PROVIDER_ERROR', `provider ${provider} failed with HTTP ${status}`, {
        details: { provider, status, retryable: true, ...(retryAfter ? { retry_after: retryAfter } : {}) },
        nextSteps: ['run the same command again: it resumes the same attempt'],
      });
    }
    return invalidResponse(provider, 'provisioning', `HTTP ${status} without a protocol error body`, { status });
  }
  const e = parsed.data.error;
  const code = clean(e.code, 64);
  const message = clean(e.message);
  const base = { provider, status, provider_code: code, ...(e.field !== undefined ? { field: clean(e.field, 256) } : {}) };
  if (status === 402 && code === 'PAYMENT_REQUIRED' && parsed.data.quote) {
    return new AgentprovError('PAYMENT_REQUIRED_QUOTE', `provider ${provider} asks for payment: ${message}`, { details: { ...base, quote: parsed.data.quote } });
  }
  if (status === 402 && code === 'PAYMENT_DECLINED') {
    const railCode = e.details?.rail_code;
    return new AgentprovError('PAYMENT_DECLINED', `provider ${provider} declined the payment: ${message}`, {
      details: { ...base, ...(typeof railCode === 'string' ? { rail_code: clean(railCode, 64) } : {}) },
    });
  }
  if (code === 'UPDATE_NOT_ALLOWED') {
    const allowed = Array.isArray(e.details?.allowed_updates) ? e.details.allowed_updates.filter((x): x is string => typeof x === 'string').map((x) => clean(x, 100)).slice(0, 50) : [];
    return new AgentprovError('UPDATE_NOT_ALLOWED', `provider ${provider} refused the update: ${message}`, { details: { ...base, allowed_updates: allowed }, nextSteps: [`agentprov catalog ${provider}`] });
  }
  if (code === 'SERVICE_NOT_FOUND') {
    return new AgentprovError('SERVICE_NOT_FOUND', `provider ${provider} has no such service: ${message}`, { details: base, nextSteps: [`agentprov catalog ${provider} --refresh`] });
  }
  if (status === 404 && code === 'NOT_FOUND') {
    return new AgentprovError('RESOURCE_NOT_FOUND', `provider ${provider} has no such provision: ${message}`, { details: base });
  }
  if (status === 400 && e.field !== undefined && /^config(\.|$)/.test(e.field)) {
    return new AgentprovError('INVALID_CONFIG', `provider ${provider} refused the config: ${message}`, { details: base });
  }
  const retryable = status >= 500 || code === 'IDEMPOTENCY_IN_PROGRESS';
  return new AgentprovError('PROVIDER_ERROR', `provider ${provider} refused the request (${code}): ${message}`, {
    details: { ...base, ...(retryable ? { retryable: true } : {}), ...(retryAfter ? { retry_after: retryAfter } : {}) },
    ...(retryable ? { nextSteps: ['run the same command again: it resumes the same attempt'] } : {}),
  });
}

function parseProvision(provider: string, res: HttpResponse): Provision {
  const parsed = ProvisionSchema.safeParse(json(provider, res));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidResponse(provider, 'provisioning', `HTTP ${res.status} body, field "${issue?.path.join('.') || '(root)'}": ${issue?.message ?? 'invalid'}`, { status: res.status });
  }
  return parsed.data;
}

/** POST a provision (§4.1). 201 active or 202 pending; the same key never creates twice (§4.2). */
export async function createProvision(ctx: ProvisioningContext, input: ProvisionInput): Promise<Provision> {
  if (!IdempotencyKeySchema.safeParse(input.idempotencyKey).success) {
    throw new AgentprovError('USAGE', 'the idempotency key must be 1-255 visible ASCII characters');
  }
  const res = await send(ctx, {
    method: 'POST',
    url: ctx.endpoint,
    headers: { 'content-type': 'application/json', 'idempotency-key': input.idempotencyKey },
    body: JSON.stringify({
      service: input.service,
      name: input.name,
      config: input.config,
      ...(input.paymentToken !== undefined ? { payment_token: input.paymentToken } : {}),
    }),
  });
  if (res.status !== 201 && res.status !== 202) throw provisioningError(ctx.provider, res);
  const p = parseProvision(ctx.provider, res);
  if (p.service !== input.service || p.name !== input.name) {
    throw invalidResponse(ctx.provider, 'provisioning', `the provision it returned is for ${p.service} "${p.name}", not ${input.service} "${input.name}"`);
  }
  return p;
}

/** POST <endpoint>/<id>/update (§4.4): 200 with the updated provision; the same key changes and charges once. */
export async function updateProvision(ctx: ProvisioningContext, input: UpdateInput): Promise<Provision> {
  if (!IdempotencyKeySchema.safeParse(input.idempotencyKey).success) {
    throw new AgentprovError('USAGE', 'the idempotency key must be 1-255 visible ASCII characters');
  }
  const res = await send(ctx, {
    method: 'POST',
    url: `${provisionUrl(ctx.endpoint, input.provisionId)}/update`,
    headers: { 'content-type': 'application/json', 'idempotency-key': input.idempotencyKey },
    body: JSON.stringify({ service: input.service, config: input.config, ...(input.paymentToken !== undefined ? { payment_token: input.paymentToken } : {}) }),
  });
  if (res.status !== 200) throw provisioningError(ctx.provider, res);
  const p = parseProvision(ctx.provider, res);
  if (p.id !== input.provisionId || p.service !== input.service) {
    throw invalidResponse(ctx.provider, 'provisioning', `the update of ${clean(input.provisionId, 128)} to ${input.service} answered with ${p.id} of ${p.service}`);
  }
  return p;
}

function provisionUrl(endpoint: string, id: string): string {
  return `${endpoint.replace(/\/+$/, '')}/${encodeURIComponent(id)}`;
}

/** GET a provision (§4.3): its current status. */
export async function readProvision(ctx: ProvisioningContext, id: string): Promise<Provision> {
  const res = await send(ctx, { method: 'GET', url: provisionUrl(ctx.endpoint, id) });
  if (res.status !== 200) throw provisioningError(ctx.provider, res);
  const p = parseProvision(ctx.provider, res);
  if (p.id !== id) throw invalidResponse(ctx.provider, 'provisioning', `asked for provision ${clean(id, 128)}, got ${p.id}`);
  return p;
}

/** DELETE a provision (§4.3). Already gone (404) counts as deleted. */
export async function deleteProvision(ctx: ProvisioningContext, id: string): Promise<void> {
  const res = await send(ctx, { method: 'DELETE', url: provisionUrl(ctx.endpoint, id) });
  if (res.status === 404) {
    const err = provisioningError(ctx.provider, res);
    if (err.code === 'RESOURCE_NOT_FOUND') return;
    throw err;
  }
  if (res.status !== 200) throw provisioningError(ctx.provider, res);
  if (!ProvisionDeletedSchema.safeParse(json(ctx.provider, res)).success) throw invalidResponse(ctx.provider, 'provisioning', 'the deletion answer is not { id, status: "deleted" }');
}

/**
 * POST a deep link (§4.5): a single-use sign-in URL for the human into the
 * provision's console page. The URL is a secret: it goes to the redactor
 * before anything else looks at it, and no error names it.
 */
export async function createDeepLink(ctx: ProvisioningContext, id: string, redact: (secret: string) => void): Promise<DeepLink> {
  const res = await send(ctx, {
    method: 'POST',
    url: `${provisionUrl(ctx.endpoint, id)}/deep_link`,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ purpose: 'dashboard' }),
  });
  if (res.status !== 201 && res.status !== 200) throw await deepLinkError(ctx, id, res);
  const raw = json(ctx.provider, res) as { url?: unknown } | undefined;
  if (typeof raw?.url === 'string') redact(raw.url);
  const parsed = DeepLinkSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidResponse(ctx.provider, 'deep_link', `HTTP ${res.status} body, field "${issue?.path.join('.') || '(root)'}": ${issue?.code ?? 'invalid'}`, { status: res.status });
  }
  return parsed.data;
}

/**
 * A provider that predates §4.5 answers `404 NOT_FOUND` (no such endpoint),
 * `405` or `501`, and a 404 is also what a missing provision gets: a GET of
 * the provision tells the two apart. OPEN_NOT_SUPPORTED when the provision
 * is there, the provider's own error otherwise.
 */
async function deepLinkError(ctx: ProvisioningContext, id: string, res: HttpResponse): Promise<AgentprovError> {
  const err = provisioningError(ctx.provider, res);
  const unsupported = () =>
    new AgentprovError('OPEN_NOT_SUPPORTED', `provider ${ctx.provider} offers no deep link (HTTP ${res.status} for ${id}/deep_link)`, {
      details: { provider: ctx.provider, status: res.status },
    });
  if (res.status === 405 || res.status === 501) return unsupported();
  if (err.code !== 'RESOURCE_NOT_FOUND') return err;
  try {
    const p = await readProvision(ctx, id);
    return p.status === 'deleted' ? err : unsupported();
  } catch {
    return err;
  }
}
