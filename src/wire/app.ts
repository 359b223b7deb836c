/**
 * Wire schemas of APP 0.1d, the Agentic Provisioning Protocol some providers
 * serve (docs/protocol.md §APP), shared by agentprov's APP client
 * (src/providers/app/) and the sandbox's APP provider (src/sandbox/app/).
 * Every string, array and object is bounded; what a provider sends is loose
 * (fields may be added), what agentprov must rely on is checked. Depth is
 * checked by the caller with tooDeepAt before any of these run.
 */
import * as z from 'zod';

export const APP_VERSION = '0.1d';
/** Largest APP answer agentprov reads. */
export const MAX_APP_BODY_BYTES = 256 * 1024;
/** A Client ID Metadata Document is smaller than this. */
export const MAX_CIMD_BYTES = 5 * 1024;

const MAX_URL = 2048;
const httpUrl = z.url({ protocol: /^https?$/ }).max(MAX_URL);
/** Printable text without control characters (no terminal escape sequences). */
const text = (max: number) => z.string().max(max).regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'contains control characters');
const id = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'not visible ASCII');
const secretValue = z.string().min(1).max(4096).regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'contains control characters');

// ---- errors -------------------------------------------------------------------

export const AppErrorObject = z.looseObject({
  code: z.string().min(1).max(64).regex(/^[a-z0-9_.-]+$/i, 'not an error code'),
  /** Free text: the client strips control characters before showing it. */
  message: z.string().max(2000).optional(),
});
/** The envelopes APP uses: `{error:{code,message}}` (also with `type`/`status`/`id`), or RFC 6749 `{error, error_description}`. */
export const AppErrorBody = z.union([
  z.looseObject({ error: AppErrorObject }),
  z.looseObject({ error: z.string().min(1).max(64).regex(/^[a-z0-9_]+$/), error_description: z.string().max(2000).optional() }),
]);
export type AppErrorBody = z.infer<typeof AppErrorBody>;

/** `{code, message}` from any of the envelopes. */
export function appError(body: AppErrorBody): { code: string; message: string } {
  if (typeof body.error === 'string') return { code: body.error, message: (body as { error_description?: string }).error_description ?? '' };
  return { code: body.error.code, message: body.error.message ?? '' };
}

// ---- health -------------------------------------------------------------------

export const AppHealth = z.looseObject({
  status: z.string().max(32),
  supported_versions: z.array(z.string().max(16)).max(20),
});

// ---- services -----------------------------------------------------------------

const Freeform = z.looseObject({ type: z.literal('freeform'), freeform: text(500) });
export const AppPricing = z.union([
  z.looseObject({ type: z.literal('free') }),
  z.looseObject({ type: z.literal('paid'), paid: Freeform }),
  z.looseObject({
    type: z.literal('component'),
    component: z.looseObject({
      options: z.array(z.looseObject({ parent_service_ids: z.array(id).max(20).optional(), type: z.string().max(32), paid: Freeform.optional() })).max(20),
    }),
  }),
]);
export type AppPricing = z.infer<typeof AppPricing>;

export const AppService = z.looseObject({
  id,
  description: text(2000).optional(),
  categories: z.array(text(40)).max(10).optional(),
  kind: z.enum(['plan', 'deployable']).optional(),
  allowed_updates: z.array(id).max(20).optional(),
  pricing: AppPricing,
});
export type AppService = z.infer<typeof AppService>;
export const AppServices = z.looseObject({ data: z.array(AppService).max(500) });

// ---- account requests -----------------------------------------------------------

export const AppAccountRequest = z.object({
  id,
  object: z.literal('account_request'),
  email: z.email().max(254),
  name: text(256).optional(),
  scopes: z.array(z.string().max(64)).max(20).default([]),
  client_capabilities: z.array(z.string().max(32)).max(10).optional(),
  client_id: httpUrl,
  expires_at: z.iso.datetime(),
  terms_accepted_at: z.iso.datetime().optional(),
  configuration: z.record(z.string().max(64), z.unknown()).optional(),
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code_challenge_method: z.literal('S256'),
});
export type AppAccountRequest = z.infer<typeof AppAccountRequest>;

export const AppAccountAnswer = z.discriminatedUnion('type', [
  z.looseObject({ id, type: z.literal('oauth'), oauth: z.looseObject({ code: secretValue }) }),
  z.looseObject({ id, type: z.literal('requires_auth'), requires_auth: z.looseObject({ url: httpUrl }) }),
]);
export type AppAccountAnswer = z.infer<typeof AppAccountAnswer>;

// ---- token endpoint -----------------------------------------------------------

export const AppTokenResponse = z.looseObject({
  token_type: z.string().regex(/^bearer$/i),
  access_token: secretValue,
  refresh_token: secretValue,
  expires_in: z.number().int().min(1).max(31_536_000),
  account: z
    .looseObject({
      id,
      payment_credentials: z.enum(['orchestrator', 'provider']).optional(),
    })
    .optional(),
});
export type AppTokenResponse = z.infer<typeof AppTokenResponse>;

// ---- resources ------------------------------------------------------------------

/** Credentials of a resource: flat, string members (PostHog: `api_key`, `host`). */
export const AppAccessConfiguration = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'not a lower_snake key'), secretValue)
  .refine((r) => Object.keys(r).length >= 1 && Object.keys(r).length <= 20, { message: 'between 1 and 20 members' });

export const AppResourceRequest = z.object({
  service_id: id,
  project_id: id,
  configuration: z.record(z.string().max(64), z.unknown()).default({}),
  label_prefix: z.string().max(64).optional(),
});

export const AppResource = z.discriminatedUnion('status', [
  z.looseObject({ status: z.literal('complete'), id, service_id: id, complete: z.looseObject({ access_configuration: AppAccessConfiguration }) }),
  z.looseObject({ status: z.literal('pending'), id, service_id: id.optional() }),
  z.looseObject({ status: z.literal('removed'), id }),
]);
export type AppResource = z.infer<typeof AppResource>;

// ---- deep links -------------------------------------------------------------------

/** POST provisioning/deep_links: `purpose` (`dashboard`) and the provider-side `path` the human lands on. */
export const AppDeepLinkRequest = z.object({
  purpose: z.literal('dashboard'),
  path: z.string().max(512).regex(/^\/[\x21-\x7e]*$/, 'not an absolute path').optional(),
});
export type AppDeepLinkRequest = z.infer<typeof AppDeepLinkRequest>;
/** A single-use sign-in URL for the human (10 minutes at PostHog): a secret until used. */
export const AppDeepLink = z.looseObject({ purpose: text(64).optional(), url: httpUrl, expires_at: z.iso.datetime({ offset: true }) });
export type AppDeepLink = z.infer<typeof AppDeepLink>;

// ---- Client ID Metadata Document ---------------------------------------------

export const AppClientMetadata = z.looseObject({
  client_id: httpUrl,
  client_name: text(200),
  redirect_uris: z.array(httpUrl).min(1).max(5),
  token_endpoint_auth_method: z.enum(['none', 'private_key_jwt']),
  grant_types: z.array(z.string().max(64)).max(5),
  response_types: z.array(z.string().max(32)).max(3),
});
export type AppClientMetadata = z.infer<typeof AppClientMetadata>;

/** Where a CIMD may live: https, or http on loopback only; a path; no query, fragment or user info. */
export function cimdUrlProblem(raw: string, isLoopback: (host: string) => boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return 'is not a URL';
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) return 'must be https (http only on loopback)';
  if (u.username || u.password || u.search || u.hash) return 'must have no user info, query or fragment';
  if (u.pathname === '/' || u.pathname === '') return 'must have a path';
  return undefined;
}

// ---- the orchestrator's code relay (docs/protocol.md §APP.4) ----------------------

/** GET <relay>?state=…: the code the provider redirected the human's browser with, once. */
export const AppRelayAnswer = z.discriminatedUnion('status', [
  z.looseObject({ status: z.literal('pending') }),
  z.looseObject({ status: z.literal('ready'), code: secretValue }),
  z.looseObject({ status: z.literal('denied'), error: text(200) }),
]);
