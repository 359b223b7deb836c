/**
 * A local double of Cloudflare's v4 API for tests (issue 9): tests cannot
 * reach api.cloudflare.com, so the `cloudflare` SDK (baseURL option) and
 * wrangler (CLOUDFLARE_API_BASE_URL) are pointed at this node:http server on
 * 127.0.0.1, which serves under `/client/v4` the documented paths the
 * Cloudflare provider uses: API tokens (user- and account-owned), user,
 * accounts, memberships, Registrar, Workers KV, R2, D1 and Workers scripts.
 * Everything lives in memory and is inspectable through `double.state`.
 *
 * Wire format: every JSON answer is the v4 envelope `{success, errors:
 * [{code, message}], messages, result, result_info?}`; shapes follow the
 * SDK's type files (node_modules/cloudflare/resources/**\/*.d.ts). The
 * fixtures in test/fixtures/cloudflare/ hold the documented examples it serves
 * (identity, permission groups, Registrar prices) and the catalogue of every
 * error it answers with, each marked with where it comes from: Cloudflare
 * documents the envelope but hardly any error codes, so some codes are the
 * double's own (errors.json says which). Clients must not depend on those.
 *
 * Authentication (`Authorization: Bearer <token>` on every call):
 * - Header present but not `Bearer <token>`: 400, 6003 "Invalid request
 *   headers" (error_chain 6111), as real responses show.
 * - Missing, unknown, deleted, disabled, expired (`expires_on` passed) or not
 *   yet valid (`not_before`) token: on GET /user/tokens/verify and
 *   /accounts/:id/tokens/verify 401 with code 1000 "Invalid API Token";
 *   everywhere else 403 with code 10000 "Authentication error". Why these:
 *   wrangler's getTokenType (wrangler-dist/cli.js) reads code 1000 on
 *   /user/tokens/verify as "this is an account-owned token" and goes on to
 *   GET /user, where 10000 is neither its "no permission" code (9109) nor
 *   anything else it tolerates, so `wrangler whoami` fails for a dead token.
 *   Answering 10000 on verify would fail it one call earlier; 1000 matches
 *   what Cloudflare answers there (the SDK's verify error example uses 1000).
 *   A valid account-owned token gets the same 1000 on /user/tokens/verify,
 *   which is exactly what wrangler's check relies on.
 *
 * Permissions: a token's policies (`resources` keys
 * `com.cloudflare.api.user.<id>`, `com.cloudflare.api.account.<id>` or
 * `com.cloudflare.api.account.*`, value "*"; `permission_groups` by id;
 * `deny` beats `allow`) decide which calls it may make. The table is
 * `NEED` below: one permission group per endpoint, and a "... Write" group
 * also grants its "... Read". A call the token may not make gets 403 with code
 * 9109 "Unauthorized to access requested resource" (wrangler's getEmail
 * treats 9109 on /user as a missing permission). A token creating or updating
 * a token may not grant anything it does not hold itself (403, 9109); this is
 * stricter than Cloudflare's documented rule (bounded by the user's role), as
 * issue 9 needs: narrowed children of a parent token. Zone-level resources,
 * IP conditions (stored, echoed, not enforced) and R2 bucket-item groups are
 * not modelled.
 *
 * Registrar: domain-check / domain-search classify each domain (extension not
 * supported via the API, not supported, frozen, taken, premium, registrable
 * with the price table's price). POST /registrations answers 201 with a
 * succeeded workflow, or 202 (`links.self` to poll) when the test holds the
 * domain pending or the client sent `Prefer: respond-async`; a succeeded
 * registration records a charge on the account. A second POST for a domain
 * the account owns is refused (400), every POST is counted per domain. An
 * account without a billing profile is refused with 400 and the dashboard URL
 * in the message (Cloudflare documents the precondition, not the error: the
 * status and code 100101 are the double's choice, see errors.json).
 *
 * Workers scripts: PUT accepts wrangler's multipart form (JSON `metadata`
 * part, one part per module) and the SDK's (`metadata[...]` fields,
 * `files[]`). A body labelled application/javascript is a service-worker
 * script, so a multipart body sent with that label fails as a syntax error
 * (10021): the SDK 7.3.0 `workers.scripts.update` does exactly that unless the
 * caller passes `headers: { 'Content-Type': null }`.
 *
 * Fault injection: rateLimitNext (429 + Retry-After, code 971), failNext
 * (status + envelope for matching requests) and dropNext (socket destroyed
 * before or after the request took effect).
 *
 * Secrets: token values are kept only in a private map; `state` and the
 * request log carry token ids, never values (a deleted or rolled value is
 * still attributed to its token through its SHA-256, with `auth` saying why
 * it failed).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { oauthScopeOf } from '../../src/catalog/builtin/cloudflare.js';
import { createOAuthDouble, type OAuthClientSpec, type OAuthDouble } from './cloudflare-oauth-double.js';

// ---------------------------------------------------------------- fixtures

const FIXTURE_DIR = new URL('../fixtures/cloudflare/', import.meta.url);

function fixture<T>(name: string, schema: z.ZodType<T>): T {
  return schema.parse(JSON.parse(readFileSync(new URL(name, FIXTURE_DIR), 'utf8')));
}

/** The permission groups the double knows; names must exist in permission-groups.json. */
export const PERMISSION_GROUP_NAMES = [
  'API Tokens Read',
  'API Tokens Write',
  'Memberships Read',
  'Memberships Write',
  'User Details Read',
  'User Details Write',
  'Account Settings Read',
  'Account Settings Write',
  'Account API Tokens Read',
  'Account API Tokens Write',
  'Workers Scripts Read',
  'Workers Scripts Write',
  'Workers KV Storage Read',
  'Workers KV Storage Write',
  'Workers R2 Storage Read',
  'Workers R2 Storage Write',
  'D1 Read',
  'D1 Write',
  'Registrar Domains Read',
  'Registrar Domains Write',
] as const;
export type PermissionGroupName = (typeof PERMISSION_GROUP_NAMES)[number];

const USER_SCOPE = 'com.cloudflare.api.user';
const ACCOUNT_SCOPE = 'com.cloudflare.api.account';

const PermissionGroupSchema = z.object({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  name: z.string(),
  description: z.string(),
  category: z.string(),
  is_selectable: z.boolean(),
  scopes: z.array(z.string()).min(1),
});
type PermissionGroup = z.infer<typeof PermissionGroupSchema>;

const PERMISSION_GROUPS: readonly PermissionGroup[] = fixture(
  'permission-groups.json',
  z.object({ result: z.array(PermissionGroupSchema) }),
).result;
const GROUP_BY_NAME = new Map(PERMISSION_GROUPS.map((g) => [g.name, g]));
const GROUP_BY_ID = new Map(PERMISSION_GROUPS.map((g) => [g.id, g]));
for (const name of PERMISSION_GROUP_NAMES) {
  if (!GROUP_BY_NAME.has(name)) throw new Error(`permission-groups.json lacks "${name}"`);
}

const ERROR_KEYS = [
  'invalid_auth_header',
  'invalid_token_verify',
  'authentication_error',
  'unauthorized',
  'rate_limited',
  'malformed_json',
  'invalid_request',
  'body_too_large',
  'no_route',
  'object_not_found',
  'method_not_allowed',
  'internal_error',
  'kv_namespace_exists',
  'kv_namespace_not_found',
  'kv_key_not_found',
  'r2_bucket_exists',
  'r2_invalid_bucket_name',
  'r2_bucket_not_found',
  'd1_name_taken',
  'd1_not_found',
  'script_not_found',
  'script_syntax_error',
  'registrar_billing_profile_missing',
  'registrar_already_registered',
  'registrar_domain_unavailable',
  'registrar_domain_premium',
  'registrar_extension_not_supported',
  'registrar_registration_not_found',
] as const;
type ErrorKey = (typeof ERROR_KEYS)[number];

const ErrorSpecSchema = z.object({
  status: z.number().int().min(400).max(599),
  code: z.number().int(),
  message: z.string(),
  error_chain: z.array(z.object({ code: z.number().int(), message: z.string() })).optional(),
  origin: z.enum(['documented', 'observed', 'recalled', 'double']),
  note: z.string().optional(),
});
type ErrorSpec = z.infer<typeof ErrorSpecSchema>;
const ERRORS = fixture('errors.json', z.object({ errors: z.record(z.string(), ErrorSpecSchema) })).errors;
for (const key of ERROR_KEYS) if (!ERRORS[key]) throw new Error(`errors.json lacks "${key}"`);
/** The documented/observed/double-chosen error catalogue, for tests that assert codes. */
export const CLOUDFLARE_ERRORS: Readonly<Record<ErrorKey, ErrorSpec>> = ERRORS as Record<ErrorKey, ErrorSpec>;

const IDENTITY = fixture(
  'identity.json',
  z.object({
    user: z.looseObject({ id: z.string().regex(/^[0-9a-f]{32}$/), email: z.string() }),
    account: z.looseObject({ id: z.string().regex(/^[0-9a-f]{32}$/), name: z.string(), type: z.string() }),
    membership: z.looseObject({ roles: z.array(z.string()), status: z.string() }),
  }),
);

const PricingSchema = z.object({ currency: z.string(), registration_cost: z.string(), renewal_cost: z.string() });
const REGISTRAR = fixture(
  'registrar-search.json',
  z.object({
    example: z.object({ result: z.object({ domains: z.array(z.object({ name: z.string(), pricing: PricingSchema })) }) }),
    not_via_api: z.object({ extensions: z.array(z.string()) }),
  }),
);

// ---------------------------------------------------------------- public types

export interface TokenPolicy {
  id: string;
  effect: 'allow' | 'deny';
  permission_groups: Array<{ id: string; name: string }>;
  resources: Record<string, string>;
}

/** The SDK's TokenPolicyParam shape, as `double.policies()` builds it. */
export interface TokenPolicyInput {
  effect: 'allow' | 'deny';
  permission_groups: Array<{ id: string }>;
  resources: Record<string, string>;
}

export type TokenOwner = { kind: 'user'; id: string } | { kind: 'account'; id: string };

export interface DoubleToken {
  id: string;
  name: string;
  owner: TokenOwner;
  status: 'active' | 'disabled';
  policies: TokenPolicy[];
  issued_on: string;
  modified_on: string;
  expires_on?: string;
  not_before?: string;
  last_used_on?: string;
  condition?: unknown;
  /** Id of the token whose call created it; null when seeded by the test. */
  created_by: string | null;
  /** Set on an OAuth access token (cloudflare-oauth-double.ts): the grant that issued it. Not listed under /tokens. */
  oauth_grant?: string;
  deleted_on?: string;
}

export interface TokenEvent {
  type: 'created' | 'updated' | 'rolled' | 'deleted';
  token_id: string;
  /** Id of the token that made the call; null for the test's own seeding. */
  by: string | null;
  at: string;
  expires_on?: string;
}

/** How the bearer token of a request fared; absent when a fault answered before authentication. */
export type AuthOutcome = 'ok' | 'missing' | 'malformed' | 'unknown' | 'deleted' | 'rolled' | 'disabled' | 'expired' | 'not_yet_valid';

export interface RequestRecord {
  at: string;
  method: string;
  /** Path below /client/v4, without the query. */
  path: string;
  query: string;
  /** The token's id, also for a deleted token or a rolled-away value (recognised by hash); null if unknown. */
  token_id: string | null;
  auth?: AuthOutcome;
  status: number | 'dropped';
}

export type WorkflowState = 'pending' | 'in_progress' | 'action_required' | 'blocked' | 'succeeded' | 'failed';

export interface RegistrationRecord {
  account_id: string;
  domain_name: string;
  status: 'registration_pending' | 'active';
  created_at: string;
  updated_at: string;
  expires_at: string | null;
  auto_renew: boolean;
  locked: boolean;
  privacy_mode: 'off' | 'redaction';
  years: number;
  price: { amount: string; currency: string };
  workflow: {
    state: WorkflowState;
    completed: boolean;
    created_at: string;
    updated_at: string;
    error: { code: string; message: string } | null;
  };
  /** Status polls still answered pending; 'until-released' waits for double.release(). */
  pending_polls: number | 'until-released';
}

export interface ChargeRecord {
  account_id: string;
  domain_name: string;
  amount: string;
  currency: string;
  at: string;
}

export interface DoubleAccount {
  id: string;
  name: string;
  type: string;
  created_on: string;
  settings: Record<string, unknown>;
  billing_profile: boolean;
}

export interface KvNamespaceRecord {
  account_id: string;
  id: string;
  title: string;
  values: Map<string, Buffer>;
}

export interface R2BucketRecord {
  account_id: string;
  name: string;
  creation_date: string;
  location: string;
  storage_class: 'Standard' | 'InfrequentAccess';
}

export interface D1DatabaseRecord {
  account_id: string;
  uuid: string;
  name: string;
  created_at: string;
}

export interface WorkerScriptRecord {
  account_id: string;
  name: string;
  created_on: string;
  modified_on: string;
  etag: string;
  metadata: Record<string, unknown>;
  parts: Array<{ name: string; type: string; bytes: Buffer }>;
}

export interface DoubleState {
  user: { id: string; email: string } & Record<string, unknown>;
  accounts: DoubleAccount[];
  /** Every token ever created (deleted ones keep `deleted_on`); no values. */
  tokens: DoubleToken[];
  tokenEvents: TokenEvent[];
  requests: RequestRecord[];
  registrations: RegistrationRecord[];
  /** POST /registrations calls per domain, refused ones included. */
  registrationPosts: Map<string, number>;
  charges: ChargeRecord[];
  kvNamespaces: KvNamespaceRecord[];
  r2Buckets: R2BucketRecord[];
  d1Databases: D1DatabaseRecord[];
  workerScripts: WorkerScriptRecord[];
  /** Bugs in the double itself (answered 500); a test may assert it stays empty. */
  internalErrors: string[];
}

export interface SeedTokenSpec {
  name?: string;
  /** The secret; random (40 characters, like Cloudflare's) when omitted. */
  value?: string;
  /** Groups granted on the user (com.cloudflare.api.user.<id>). */
  user?: PermissionGroupName[];
  /** Groups granted on `accountId` (default: the first account). */
  account?: PermissionGroupName[];
  accountId?: string;
  /** Explicit policies instead of (or besides) `user` / `account`. */
  policies?: TokenPolicyInput[];
  expires_on?: string | Date;
  not_before?: string | Date;
  status?: 'active' | 'disabled';
  /** An account-owned token (/accounts/:id/tokens) instead of a user token. */
  ownerAccountId?: string;
}

export interface CloudflareDoubleOptions {
  /** Default: one account, the documented example account. */
  accounts?: Array<{ id?: string; name: string; billingProfile?: boolean }>;
  user?: { id?: string; email?: string };
  /** The seeded parent token; default grants (user and every account) in DEFAULT_PARENT_PERMISSIONS. */
  parentToken?: Omit<SeedTokenSpec, 'ownerAccountId' | 'accountId'>;
  /** Clock in epoch ms (default Date.now); `advanceTime` adds to it. */
  now?: () => number;
  /** Largest request body accepted, bytes (default 1 MiB). */
  bodyLimit?: number;
  /** OAuth clients registered at the double's authorization server (/oauth2/*). */
  oauthClients?: OAuthClientSpec[];
  /** Lifetime of an OAuth access token (default 3600 s). */
  oauthAccessTokenTtlSeconds?: number;
}

export interface CloudflareDouble {
  /** `http://127.0.0.1:<port>/client/v4`: the SDK's baseURL, wrangler's CLOUDFLARE_API_BASE_URL. */
  readonly url: string;
  readonly accountId: string;
  readonly userId: string;
  /** The seeded parent token. */
  readonly parent: { readonly id: string; readonly value: string };
  readonly state: DoubleState;
  /** The authorization server (/oauth2/auth, /oauth2/token, /oauth2/revoke) at `oauthUrl`. */
  readonly oauth: OAuthDouble;
  /** `http://127.0.0.1:<port>`: the OAuth base URL (AGENTPROV_CLOUDFLARE_OAUTH_URL). */
  readonly oauthUrl: string;
  permissionGroupId(name: PermissionGroupName): string;
  /** Policies in the SDK's param shape granting `user` groups on the user and `account` groups on the account. */
  policies(spec: { user?: PermissionGroupName[]; account?: PermissionGroupName[]; accountId?: string }): TokenPolicyInput[];
  /** Seed a token directly (no API call, no parent check). */
  createToken(spec?: SeedTokenSpec): { id: string; value: string };
  /** The live (not deleted) token with this id. */
  token(id: string): DoubleToken | undefined;
  now(): Date;
  advanceTime(ms: number): void;
  setBillingProfile(accountId: string, present: boolean): void;
  setPrice(extension: string, registrationCost: string, renewalCost?: string, currency?: string): void;
  markTaken(...domains: string[]): void;
  markPremium(domain: string, registrationCost: string, renewalCost?: string): void;
  disallowExtension(extension: string): void;
  /** The next registration of `domain` answers 202 and stays pending for `polls` status polls, or until release(). */
  holdPending(domain: string, polls?: number): void;
  release(domain: string): void;
  failPending(domain: string, error: { code: string; message: string }): void;
  rateLimitNext(count: number, retryAfterSeconds: number): void;
  /** The next `times` requests whose path contains `match` (string) or matches it (RegExp) get `status`. */
  failNext(match: string | RegExp, status: number, options?: { method?: string; code?: number; message?: string; times?: number }): void;
  /** Destroy the socket of the next matching request: before it takes effect, or with `after` once it has. */
  dropNext(options?: { match?: string | RegExp; method?: string; after?: boolean; times?: number }): void;
  close(): Promise<void>;
}

export const DEFAULT_PARENT_PERMISSIONS: { user: PermissionGroupName[]; account: PermissionGroupName[] } = {
  user: ['API Tokens Write', 'User Details Read', 'Memberships Read'],
  account: [
    'Account Settings Read',
    'Account API Tokens Write',
    'Workers Scripts Write',
    'Workers KV Storage Write',
    'Workers R2 Storage Write',
    'D1 Write',
    'Registrar Domains Write',
  ],
};

// ---------------------------------------------------------------- permission table

type Need =
  | { kind: 'token' } // any valid token (GET /accounts lists what it can see)
  | { kind: 'verify'; owner: 'user' | 'account' }
  | { kind: 'user'; group: PermissionGroupName }
  | { kind: 'account'; group: PermissionGroupName };

const user = (group: PermissionGroupName): Need => ({ kind: 'user', group });
const account = (group: PermissionGroupName): Need => ({ kind: 'account', group });

/** Which group each endpoint needs; a "... Write" group also grants its "... Read". */
const NEED = {
  userTokensRead: user('API Tokens Read'),
  userTokensWrite: user('API Tokens Write'),
  userDetails: user('User Details Read'),
  memberships: user('Memberships Read'),
  accountSettings: account('Account Settings Read'),
  accountTokensRead: account('Account API Tokens Read'),
  accountTokensWrite: account('Account API Tokens Write'),
  kvRead: account('Workers KV Storage Read'),
  kvWrite: account('Workers KV Storage Write'),
  r2Read: account('Workers R2 Storage Read'),
  r2Write: account('Workers R2 Storage Write'),
  d1Read: account('D1 Read'),
  d1Write: account('D1 Write'),
  scriptsRead: account('Workers Scripts Read'),
  scriptsWrite: account('Workers Scripts Write'),
  registrarRead: account('Registrar Domains Read'),
  registrarWrite: account('Registrar Domains Write'),
} as const;

function groupIdsGranting(name: PermissionGroupName): Set<string> {
  const ids = new Set([GROUP_BY_NAME.get(name)!.id]);
  if (name.endsWith(' Read')) {
    const write = GROUP_BY_NAME.get(name.replace(/ Read$/, ' Write'));
    if (write) ids.add(write.id);
  }
  return ids;
}

type Scope = { kind: 'user' | 'account'; id: string };

function covers(resources: Record<string, string>, scope: Scope): boolean {
  for (const [key, value] of Object.entries(resources)) {
    if (value !== '*') continue;
    if (scope.kind === 'user' && key === `${USER_SCOPE}.${scope.id}`) return true;
    if (scope.kind === 'account' && (key === `${ACCOUNT_SCOPE}.${scope.id}` || key === `${ACCOUNT_SCOPE}.*`)) return true;
  }
  return false;
}

function grants(token: DoubleToken, scope: Scope, group: PermissionGroupName): boolean {
  const ids = groupIdsGranting(group);
  let allowed = false;
  for (const policy of token.policies) {
    if (!policy.permission_groups.some((g) => ids.has(g.id))) continue;
    if (!covers(policy.resources, scope)) continue;
    if (policy.effect === 'deny') return false;
    allowed = true;
  }
  return allowed;
}

// ---------------------------------------------------------------- request schemas

const IsoDate = z.string().max(40).refine((s) => !Number.isNaN(Date.parse(s)), 'not a date-time');
const PolicySchema = z.object({
  effect: z.enum(['allow', 'deny']),
  permission_groups: z.array(z.object({ id: z.string().min(1).max(64) })).min(1).max(100),
  resources: z.record(z.string().min(1).max(200), z.union([z.string().max(200), z.record(z.string(), z.string())])),
});
const ConditionSchema = z.object({
  request_ip: z.object({ in: z.array(z.string().max(64)).max(100).optional(), not_in: z.array(z.string().max(64)).max(100).optional() }).optional(),
});
const TokenCreateSchema = z.object({
  name: z.string().min(1).max(120),
  policies: z.array(PolicySchema).min(1).max(50),
  condition: ConditionSchema.optional(),
  expires_on: IsoDate.nullable().optional(),
  not_before: IsoDate.nullable().optional(),
});
const TokenUpdateSchema = TokenCreateSchema.extend({ status: z.enum(['active', 'disabled', 'expired']).optional() });
const PageQuery = z.object({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  per_page: z.coerce.number().int().min(1).max(1000).default(20),
});
const DomainName = z
  .string()
  .max(253)
  .transform((s) => s.toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/, 'not a domain name'));
const RegistrationCreateSchema = z.object({
  domain_name: DomainName,
  years: z.number().int().min(1).max(10).optional(),
  auto_renew: z.boolean().optional(),
  privacy_mode: z.enum(['off', 'redaction']).optional(),
  contacts: z.record(z.string(), z.unknown()).optional(),
  contact_extensions: z.record(z.string(), z.unknown()).optional(),
  acknowledgements: z.record(z.string(), z.unknown()).optional(),
});

// ---------------------------------------------------------------- plumbing

class Fail extends Error {
  constructor(
    readonly key: ErrorKey,
    readonly vars: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(key);
  }
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  raw?: { bytes: Buffer; contentType: string };
}

function ok(result: unknown, extra: { status?: number; result_info?: unknown; messages?: unknown[]; headers?: Record<string, string> } = {}): Reply {
  const json: Record<string, unknown> = { success: true, errors: [], messages: extra.messages ?? [], result };
  if (extra.result_info !== undefined) json.result_info = extra.result_info;
  return { status: extra.status ?? 200, json, ...(extra.headers ? { headers: extra.headers } : {}) };
}

function failure(key: ErrorKey, vars: Record<string, string> = {}, headers: Record<string, string> = {}): Reply {
  const spec = CLOUDFLARE_ERRORS[key];
  const message = spec.message.replace(/\{(\w+)\}/g, (_, name: string) => vars[name] ?? `{${name}}`);
  const error: Record<string, unknown> = { code: spec.code, message };
  if (spec.error_chain) error.error_chain = spec.error_chain;
  return { status: spec.status, headers, json: { success: false, errors: [error], messages: [], result: null } };
}

const hex32 = (): string => randomBytes(16).toString('hex');
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Money as strings with two decimals, added in integer cents. */
function addMoney(a: string, b: string, times = 1): string {
  const cents = (s: string): number => Math.round(Number.parseFloat(s) * 100);
  const total = cents(a) + cents(b) * times;
  return (total / 100).toFixed(2);
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Fail('invalid_request', { detail: issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'invalid' });
  }
  return parsed.data;
}

function matches(match: string | RegExp | undefined, method: string | undefined, reqMethod: string, path: string): boolean {
  if (method && method.toUpperCase() !== reqMethod) return false;
  if (match === undefined) return true;
  return typeof match === 'string' ? path.includes(match) : match.test(path);
}

/** The body, or 'too-large' once past `limit` (the rest is drained, not kept, so the 413 can still be sent). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? 'too-large' : Buffer.concat(chunks);
}

async function formData(headers: IncomingHttpHeaders, body: Buffer): Promise<FormData> {
  const request = new Request('http://double.invalid/', {
    method: 'POST',
    headers: { 'content-type': headers['content-type'] ?? '' },
    body: new Uint8Array(body),
  });
  return await request.formData();
}

const isMultipart = (headers: IncomingHttpHeaders): boolean => (headers['content-type'] ?? '').toLowerCase().startsWith('multipart/form-data');

/** A body that is a multipart/form-data body whatever its Content-Type says. */
const looksMultipart = (body: Buffer): boolean => /^--[^\r\n]{1,200}\r\nContent-Disposition: form-data;/i.test(body.subarray(0, 512).toString('latin1'));

/**
 * Set `value` at a form field path like `metadata[bindings][][name]` inside
 * `target` (the SDK flattens objects into such fields; `[]` starts a new
 * array element when the current one already has the next key).
 */
function setFormPath(target: Record<string, unknown>, segments: string[], value: string): void {
  let node: Record<string, unknown> | unknown[] = target;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    const nextSeg = segments[i + 1];
    if (Array.isArray(node)) {
      let el = node.at(-1) as Record<string, unknown> | undefined;
      if (last) {
        node.push(value);
        return;
      }
      if (!el || typeof el !== 'object' || (nextSeg !== undefined && nextSeg in el && i + 1 === segments.length - 1)) {
        el = {};
        node.push(el);
      }
      node = el;
      continue;
    }
    if (last) {
      node[seg] = value;
      return;
    }
    const child: unknown = node[seg] ?? (nextSeg === '' ? [] : {});
    node[seg] = child;
    node = child as Record<string, unknown> | unknown[];
  }
}

interface Ctx {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: Buffer;
  token: DoubleToken;
  /** Set on /accounts/:account_id/... routes once the account is known and allowed. */
  account: DoubleAccount;
  json<T>(schema: z.ZodType<T>): T;
}

interface Route {
  method: string;
  pattern: RegExp;
  need: Need;
  handle(ctx: Ctx): Reply | Promise<Reply>;
}

// ---------------------------------------------------------------- the double

export async function startCloudflareDouble(options: CloudflareDoubleOptions = {}): Promise<CloudflareDouble> {
  const bodyLimit = options.bodyLimit ?? 1024 * 1024;
  let offset = 0;
  const nowMs = (): number => (options.now?.() ?? Date.now()) + offset;
  const nowIso = (): string => iso(nowMs());

  const userId = options.user?.id ?? IDENTITY.user.id;
  const state: DoubleState = {
    user: { ...IDENTITY.user, id: userId, email: options.user?.email ?? IDENTITY.user.email },
    accounts: (options.accounts ?? [{ id: IDENTITY.account.id, name: IDENTITY.account.name }]).map((a) => ({
      id: a.id ?? hex32(),
      name: a.name,
      type: IDENTITY.account.type,
      created_on: typeof IDENTITY.account.created_on === 'string' ? IDENTITY.account.created_on : nowIso(),
      settings: { abuse_contact_email: null, enforce_twofactor: false },
      billing_profile: a.billingProfile ?? true,
    })),
    tokens: [],
    tokenEvents: [],
    requests: [],
    registrations: [],
    registrationPosts: new Map(),
    charges: [],
    kvNamespaces: [],
    r2Buckets: [],
    d1Databases: [],
    workerScripts: [],
    internalErrors: [],
  };
  if (state.accounts.length === 0) throw new Error('the double needs at least one account');
  for (const a of state.accounts) if (!/^[0-9a-f]{32}$/.test(a.id)) throw new Error(`account id ${a.id} is not 32 hex digits`);
  const firstAccount = state.accounts[0]!;

  // Token secrets live only here: value -> id, and id -> current value. Values
  // that stopped working are remembered by SHA-256 only, to attribute requests.
  const idByValue = new Map<string, string>();
  const valueById = new Map<string, string>();
  const retired = new Map<string, { id: string; why: 'deleted' | 'rolled' }>();
  const digest = (value: string): string => createHash('sha256').update(value).digest('hex');
  function retire(id: string, why: 'deleted' | 'rolled'): void {
    const value = valueById.get(id);
    if (value === undefined) return;
    idByValue.delete(value);
    valueById.delete(id);
    retired.set(digest(value), { id, why });
  }

  // Registrar conditions the tests control.
  const prices = new Map<string, z.infer<typeof PricingSchema>>();
  for (const d of REGISTRAR.example.result.domains) prices.set(d.name.slice(d.name.indexOf('.') + 1), d.pricing);
  const notViaApi = new Set(REGISTRAR.not_via_api.extensions);
  const disallowed = new Set<string>();
  const taken = new Set<string>();
  const premium = new Map<string, z.infer<typeof PricingSchema>>();
  const holds = new Map<string, number | 'until-released'>();

  // Faults.
  let rateLimit = { remaining: 0, retryAfter: 0 };
  const failures: Array<{ match: string | RegExp; method?: string; status: number; code?: number; message?: string; times: number }> = [];
  const drops: Array<{ match?: string | RegExp; method?: string; after: boolean; times: number }> = [];

  // ------------------------------------------------------------ tokens

  const liveToken = (id: string): DoubleToken | undefined => state.tokens.find((t) => t.id === id && !t.deleted_on);

  /** Why a live token cannot be used now, or 'ok'. */
  function usability(token: DoubleToken): AuthOutcome {
    if (token.status !== 'active') return 'disabled';
    const now = nowMs();
    if (token.expires_on && Date.parse(token.expires_on) <= now) return 'expired';
    if (token.not_before && Date.parse(token.not_before) > now) return 'not_yet_valid';
    return 'ok';
  }

  function displayStatus(token: DoubleToken): 'active' | 'disabled' | 'expired' {
    if (token.expires_on && Date.parse(token.expires_on) <= nowMs()) return 'expired';
    return token.status;
  }

  function normalizePolicies(input: z.infer<typeof PolicySchema>[], owner: TokenOwner): TokenPolicy[] {
    return input.map((p) => {
      const resources: Record<string, string> = {};
      const scopeTypes = new Set<string>();
      for (const [key, value] of Object.entries(p.resources)) {
        if (value !== '*') throw new Fail('invalid_request', { detail: `resource ${key}: only "*" is modelled (zone-level resources are not)` });
        if (key === `${USER_SCOPE}.${userId}` && owner.kind === 'user') scopeTypes.add(USER_SCOPE);
        else if (key === `${ACCOUNT_SCOPE}.*` && owner.kind === 'user') scopeTypes.add(ACCOUNT_SCOPE);
        else if (key.startsWith(`${ACCOUNT_SCOPE}.`) && state.accounts.some((a) => `${ACCOUNT_SCOPE}.${a.id}` === key)) {
          if (owner.kind === 'account' && key !== `${ACCOUNT_SCOPE}.${owner.id}`) {
            throw new Fail('invalid_request', { detail: `resource ${key}: an account-owned token covers its own account only` });
          }
          scopeTypes.add(ACCOUNT_SCOPE);
        } else throw new Fail('invalid_request', { detail: `resource ${key} is not one this token may name` });
        resources[key] = value;
      }
      const permission_groups = p.permission_groups.map(({ id }) => {
        const group = GROUP_BY_ID.get(id);
        if (!group) throw new Fail('invalid_request', { detail: `unknown permission group ${id}` });
        for (const type of scopeTypes) {
          if (!group.scopes.includes(type)) throw new Fail('invalid_request', { detail: `permission group ${group.name} does not apply to ${type}` });
        }
        return { id: group.id, name: group.name };
      });
      return { id: hex32(), effect: p.effect, permission_groups, resources };
    });
  }

  /** True when `creator` holds every allow grant in `policies` (a child may not exceed its parent). */
  function withinCreator(creator: DoubleToken, policies: TokenPolicy[]): boolean {
    for (const policy of policies) {
      if (policy.effect !== 'allow') continue;
      for (const key of Object.keys(policy.resources)) {
        const scopes: Scope[] =
          key === `${ACCOUNT_SCOPE}.*`
            ? state.accounts.map((a) => ({ kind: 'account', id: a.id }))
            : key.startsWith(`${USER_SCOPE}.`)
              ? [{ kind: 'user', id: key.slice(USER_SCOPE.length + 1) }]
              : [{ kind: 'account', id: key.slice(ACCOUNT_SCOPE.length + 1) }];
        for (const group of policy.permission_groups) {
          const name = group.name as PermissionGroupName;
          if (!GROUP_BY_NAME.has(name)) return false;
          for (const scope of scopes) if (!grants(creator, scope, name)) return false;
        }
      }
    }
    return true;
  }

  function newValue(): string {
    let value: string;
    do value = randomBytes(30).toString('base64url');
    while (idByValue.has(value));
    return value;
  }

  function setValue(id: string, value: string): void {
    if (idByValue.has(value)) throw new Error('a token with that value exists already');
    retire(id, 'rolled');
    idByValue.set(value, id);
    valueById.set(id, value);
  }

  function insertToken(fields: {
    name: string;
    owner: TokenOwner;
    policies: TokenPolicy[];
    expires_on?: string | null;
    not_before?: string | null;
    condition?: unknown;
    status?: 'active' | 'disabled';
    createdBy: string | null;
    value?: string;
  }): { token: DoubleToken; value: string } {
    const now = nowIso();
    const token: DoubleToken = {
      id: hex32(),
      name: fields.name,
      owner: fields.owner,
      status: fields.status ?? 'active',
      policies: fields.policies,
      issued_on: now,
      modified_on: now,
      created_by: fields.createdBy,
    };
    if (fields.expires_on) token.expires_on = iso(Date.parse(fields.expires_on));
    if (fields.not_before) token.not_before = iso(Date.parse(fields.not_before));
    if (fields.condition !== undefined) token.condition = fields.condition;
    const value = fields.value ?? newValue();
    setValue(token.id, value);
    state.tokens.push(token);
    state.tokenEvents.push({ type: 'created', token_id: token.id, by: fields.createdBy, at: now, ...(token.expires_on ? { expires_on: token.expires_on } : {}) });
    return { token, value };
  }

  function seed(spec: SeedTokenSpec): { id: string; value: string } {
    const owner: TokenOwner = spec.ownerAccountId ? { kind: 'account', id: spec.ownerAccountId } : { kind: 'user', id: userId };
    const accountId = spec.ownerAccountId ?? spec.accountId ?? firstAccount.id;
    const input = [...policiesFor({ user: spec.user, account: spec.account, accountId }), ...(spec.policies ?? [])];
    if (input.length === 0) throw new Error('a seeded token needs at least one policy');
    const toIso = (d: string | Date | undefined): string | undefined => (d === undefined ? undefined : typeof d === 'string' ? d : d.toISOString());
    try {
      const { token, value } = insertToken({
        name: spec.name ?? 'seeded token',
        owner,
        policies: normalizePolicies(parseWith(z.array(PolicySchema), input), owner),
        expires_on: toIso(spec.expires_on),
        not_before: toIso(spec.not_before),
        status: spec.status,
        createdBy: null,
        value: spec.value,
      });
      return { id: token.id, value };
    } catch (e) {
      if (e instanceof Fail) throw new Error(`createToken: ${e.key} ${JSON.stringify(e.vars)}`);
      throw e;
    }
  }

  function policiesFor(spec: { user?: PermissionGroupName[]; account?: PermissionGroupName[]; accountId?: string }): TokenPolicyInput[] {
    const out: TokenPolicyInput[] = [];
    const ids = (names: PermissionGroupName[]): Array<{ id: string }> => names.map((n) => ({ id: GROUP_BY_NAME.get(n)!.id }));
    if (spec.user?.length) out.push({ effect: 'allow', permission_groups: ids(spec.user), resources: { [`${USER_SCOPE}.${userId}`]: '*' } });
    if (spec.account?.length) {
      out.push({ effect: 'allow', permission_groups: ids(spec.account), resources: { [`${ACCOUNT_SCOPE}.${spec.accountId ?? firstAccount.id}`]: '*' } });
    }
    return out;
  }

  function tokenView(token: DoubleToken): Record<string, unknown> {
    const view: Record<string, unknown> = {
      id: token.id,
      name: token.name,
      status: displayStatus(token),
      issued_on: token.issued_on,
      modified_on: token.modified_on,
      policies: token.policies,
    };
    if (token.last_used_on) view.last_used_on = token.last_used_on;
    if (token.expires_on) view.expires_on = token.expires_on;
    if (token.not_before) view.not_before = token.not_before;
    if (token.condition !== undefined) view.condition = token.condition;
    return view;
  }

  function ownerOf(ctx: Ctx): TokenOwner {
    return ctx.params.account_id ? { kind: 'account', id: ctx.account.id } : { kind: 'user', id: userId };
  }

  function ownedToken(ctx: Ctx): DoubleToken {
    const owner = ownerOf(ctx);
    const token = state.tokens.find((t) => t.id === ctx.params.token_id && !t.deleted_on && t.owner.kind === owner.kind && t.owner.id === owner.id);
    if (!token) throw new Fail('object_not_found', { path: `/client/v4${ctx.path}` });
    return token;
  }

  const tokenHandlers = {
    verify(ctx: Ctx, owner: 'user' | 'account'): Reply {
      const t = ctx.token;
      const right = owner === 'user' ? t.owner.kind === 'user' : t.owner.kind === 'account' && t.owner.id === ctx.params.account_id;
      if (!right) throw new Fail('invalid_token_verify');
      const result: Record<string, unknown> = { id: t.id, status: 'active' };
      if (t.expires_on) result.expires_on = t.expires_on;
      if (t.not_before) result.not_before = t.not_before;
      return ok(result, { messages: [{ code: 10000, message: 'This API Token is valid and active', type: null }] });
    },
    list(ctx: Ctx): Reply {
      const owner = ownerOf(ctx);
      const includeExpired = ctx.query.get('include_expired') === 'true';
      let items = state.tokens.filter((t) => !t.deleted_on && !t.oauth_grant && t.owner.kind === owner.kind && t.owner.id === owner.id);
      if (!includeExpired) items = items.filter((t) => displayStatus(t) !== 'expired');
      if (ctx.query.get('direction') === 'desc') items = [...items].reverse();
      return paged(items.map(tokenView), ctx.query, 50);
    },
    get(ctx: Ctx): Reply {
      return ok(tokenView(ownedToken(ctx)));
    },
    create(ctx: Ctx): Reply {
      const body = ctx.json(TokenCreateSchema);
      const owner = ownerOf(ctx);
      const policies = normalizePolicies(body.policies, owner);
      if (!withinCreator(ctx.token, policies)) throw new Fail('unauthorized');
      const { token, value } = insertToken({
        name: body.name,
        owner,
        policies,
        expires_on: body.expires_on,
        not_before: body.not_before,
        condition: body.condition,
        createdBy: ctx.token.id,
      });
      return ok({ ...tokenView(token), value });
    },
    update(ctx: Ctx): Reply {
      const token = ownedToken(ctx);
      const body = ctx.json(TokenUpdateSchema);
      const policies = normalizePolicies(body.policies, token.owner);
      if (!withinCreator(ctx.token, policies)) throw new Fail('unauthorized');
      token.name = body.name;
      token.policies = policies;
      if (body.status === 'active' || body.status === 'disabled') token.status = body.status;
      if (body.expires_on === null) delete token.expires_on;
      else if (body.expires_on !== undefined) token.expires_on = iso(Date.parse(body.expires_on));
      if (body.not_before === null) delete token.not_before;
      else if (body.not_before !== undefined) token.not_before = iso(Date.parse(body.not_before));
      if (body.condition !== undefined) token.condition = body.condition;
      token.modified_on = nowIso();
      state.tokenEvents.push({ type: 'updated', token_id: token.id, by: ctx.token.id, at: token.modified_on, ...(token.expires_on ? { expires_on: token.expires_on } : {}) });
      return ok(tokenView(token));
    },
    remove(ctx: Ctx): Reply {
      const token = ownedToken(ctx);
      token.deleted_on = nowIso();
      retire(token.id, 'deleted');
      state.tokenEvents.push({ type: 'deleted', token_id: token.id, by: ctx.token.id, at: token.deleted_on, ...(token.expires_on ? { expires_on: token.expires_on } : {}) });
      return ok({ id: token.id });
    },
    roll(ctx: Ctx): Reply {
      const token = ownedToken(ctx);
      const value = newValue();
      setValue(token.id, value);
      token.modified_on = nowIso();
      state.tokenEvents.push({ type: 'rolled', token_id: token.id, by: ctx.token.id, at: token.modified_on });
      return ok(value);
    },
    permissionGroups(ctx: Ctx, scope: 'user' | 'account'): Reply {
      let groups = PERMISSION_GROUPS.filter((g) => scope === 'user' || g.scopes.includes(ACCOUNT_SCOPE));
      const name = ctx.query.get('name');
      const wantedScope = ctx.query.get('scope');
      // The docs ask for a URL-encoded name, so clients may send it encoded twice.
      if (name) groups = groups.filter((g) => g.name === name || encodeURIComponent(g.name) === name);
      if (wantedScope) groups = groups.filter((g) => g.scopes.includes(wantedScope));
      return ok(groups.map(({ id, name: n, category, is_selectable, scopes }) => ({ id, name: n, category, is_selectable, scopes })));
    },
  };

  // ------------------------------------------------------------ paging

  function paged(items: unknown[], query: URLSearchParams, maxPerPage: number): Reply {
    const q = parseWith(PageQuery, { page: query.get('page') ?? undefined, per_page: query.get('per_page') ?? undefined });
    const perPage = Math.min(q.per_page, maxPerPage);
    const slice = items.slice((q.page - 1) * perPage, q.page * perPage);
    return ok(slice, {
      result_info: { page: q.page, per_page: perPage, count: slice.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / perPage)) },
    });
  }

  // ------------------------------------------------------------ identity

  function visibleAccounts(token: DoubleToken): DoubleAccount[] {
    return state.accounts.filter((a) =>
      token.policies.some((p) => p.effect === 'allow' && covers(p.resources, { kind: 'account', id: a.id })),
    );
  }

  const accountView = (a: DoubleAccount): Record<string, unknown> => ({ id: a.id, name: a.name, type: a.type, created_on: a.created_on, settings: a.settings });

  // ------------------------------------------------------------ registrar

  type Check = { name: string; registrable: boolean; reason?: string; tier?: 'standard' | 'premium'; pricing?: z.infer<typeof PricingSchema> };

  const extensionOf = (domain: string): string => domain.slice(domain.indexOf('.') + 1);
  const registeredAnywhere = (domain: string): boolean =>
    state.registrations.some((r) => r.domain_name === domain && r.workflow.state !== 'failed');

  function classify(domain: string): Check {
    const ext = extensionOf(domain);
    if (notViaApi.has(ext)) return { name: domain, registrable: false, reason: 'extension_not_supported_via_api' };
    if (disallowed.has(ext)) return { name: domain, registrable: false, reason: 'extension_disallows_registration' };
    const pricing = prices.get(ext);
    if (!pricing) return { name: domain, registrable: false, reason: 'extension_not_supported' };
    if (taken.has(domain) || registeredAnywhere(domain)) return { name: domain, registrable: false, reason: 'domain_unavailable' };
    const premiumPricing = premium.get(domain);
    if (premiumPricing) return { name: domain, registrable: false, reason: 'domain_premium', tier: 'premium', pricing: premiumPricing };
    return { name: domain, registrable: true, tier: 'standard', pricing };
  }

  function registrationView(r: RegistrationRecord): Record<string, unknown> {
    return {
      domain_name: r.domain_name,
      status: r.status,
      created_at: r.created_at,
      expires_at: r.expires_at,
      auto_renew: r.auto_renew,
      locked: r.locked,
      privacy_mode: r.privacy_mode,
    };
  }

  function workflowView(r: RegistrationRecord): Record<string, unknown> {
    const base = `${url}/accounts/${r.account_id}/registrar/registrations/${r.domain_name}`;
    const context: Record<string, unknown> = { domain_name: r.domain_name };
    if (r.workflow.state === 'succeeded') context.registration = registrationView(r);
    return {
      completed: r.workflow.completed,
      created_at: r.workflow.created_at,
      updated_at: r.workflow.updated_at,
      state: r.workflow.state,
      links: { self: `${base}/registration-status`, resource: base },
      context,
      error: r.workflow.error,
    };
  }

  function complete(r: RegistrationRecord): void {
    if (r.workflow.completed) return;
    const now = nowMs();
    const expires = new Date(now);
    expires.setUTCFullYear(expires.getUTCFullYear() + r.years);
    r.status = 'active';
    r.expires_at = iso(expires.getTime());
    r.updated_at = iso(now);
    r.workflow = { ...r.workflow, state: 'succeeded', completed: true, updated_at: iso(now), error: null };
    r.pending_polls = 0;
    state.charges.push({ account_id: r.account_id, domain_name: r.domain_name, amount: r.price.amount, currency: r.price.currency, at: iso(now) });
  }

  const ownRegistration = (ctx: Ctx): RegistrationRecord => {
    const domain = ctx.params.domain!.toLowerCase();
    const r = state.registrations.find((x) => x.account_id === ctx.account.id && x.domain_name === domain && x.workflow.state !== 'failed');
    if (!r) throw new Fail('registrar_registration_not_found', { domain });
    return r;
  };

  const registrar = {
    check(ctx: Ctx): Reply {
      const body = ctx.json(z.object({ domains: z.array(z.string().max(253)).min(1).max(20) }));
      const domains = body.domains.flatMap((d) => {
        const parsed = DomainName.safeParse(d);
        return parsed.success ? [classify(parsed.data)] : []; // malformed names are omitted, as documented
      });
      return ok({ domains });
    },
    search(ctx: Ctx): Reply {
      const q = (ctx.query.get('q') ?? '').trim().toLowerCase();
      if (!q) throw new Fail('invalid_request', { detail: 'q: required' });
      const limit = parseWith(z.coerce.number().int().min(1).max(100).default(20), ctx.query.get('limit') ?? undefined);
      const label = (q.includes('.') ? q.slice(0, q.indexOf('.')) : q).replace(/[^a-z0-9-]/g, '');
      if (!label || label.length > 63) throw new Fail('invalid_request', { detail: 'q: no usable keyword' });
      const wanted = ctx.query.getAll('extensions').map((e) => e.replace(/^\./, '').toLowerCase());
      const exts = [...prices.keys()].filter((e) => !notViaApi.has(e) && (wanted.length === 0 || wanted.includes(e)));
      const domains = exts.map((e) => classify(`${label}.${e}`)).slice(0, limit);
      return ok({ domains });
    },
    create(ctx: Ctx): Reply {
      const body = ctx.json(RegistrationCreateSchema);
      const domain = body.domain_name;
      state.registrationPosts.set(domain, (state.registrationPosts.get(domain) ?? 0) + 1);
      const acct = ctx.account;
      if (state.registrations.some((r) => r.account_id === acct.id && r.domain_name === domain && r.workflow.state !== 'failed')) {
        throw new Fail('registrar_already_registered', { domain });
      }
      if (!acct.billing_profile) throw new Fail('registrar_billing_profile_missing', { account_id: acct.id });
      const check = classify(domain);
      if (!check.registrable) {
        if (check.reason === 'domain_unavailable') throw new Fail('registrar_domain_unavailable', { domain });
        if (check.reason === 'domain_premium') throw new Fail('registrar_domain_premium', { domain });
        throw new Fail('registrar_extension_not_supported', { domain, reason: check.reason ?? 'extension_not_supported' });
      }
      const pricing = check.pricing!;
      const years = body.years ?? 1;
      const now = nowIso();
      const respondAsync = /(^|[\s,])respond-async([\s,;]|$)/i.test(String(ctx.headers['prefer'] ?? ''));
      const hold = holds.get(domain);
      holds.delete(domain);
      const record: RegistrationRecord = {
        account_id: acct.id,
        domain_name: domain,
        status: 'registration_pending',
        created_at: now,
        updated_at: now,
        expires_at: null,
        auto_renew: body.auto_renew ?? false,
        locked: true,
        privacy_mode: body.privacy_mode ?? 'redaction',
        years,
        price: { amount: addMoney(pricing.registration_cost, pricing.renewal_cost, years - 1), currency: pricing.currency },
        workflow: { state: 'in_progress', completed: false, created_at: now, updated_at: now, error: null },
        pending_polls: hold ?? 0,
      };
      state.registrations.push(record);
      const headers: Record<string, string> = respondAsync ? { 'Preference-Applied': 'respond-async' } : {};
      if (hold === undefined && !respondAsync) {
        complete(record);
        return ok(workflowView(record), { status: 201 });
      }
      return ok(workflowView(record), { status: 202, headers });
    },
    list(ctx: Ctx): Reply {
      const q = parseWith(
        z.object({ per_page: z.coerce.number().int().min(1).max(100).default(20), cursor: z.string().max(64).optional() }),
        { per_page: ctx.query.get('per_page') ?? undefined, cursor: ctx.query.get('cursor') || undefined },
      );
      let items = state.registrations.filter((r) => r.account_id === ctx.account.id && r.workflow.state !== 'failed');
      if (ctx.query.get('sort_by') === 'name') items = [...items].sort((a, b) => a.domain_name.localeCompare(b.domain_name));
      if (ctx.query.get('direction') === 'desc') items = [...items].reverse();
      const start = q.cursor ? Number.parseInt(Buffer.from(q.cursor, 'base64url').toString('utf8'), 10) || 0 : 0;
      const slice = items.slice(start, start + q.per_page);
      const next = start + q.per_page < items.length ? Buffer.from(String(start + q.per_page)).toString('base64url') : '';
      return ok(slice.map(registrationView), { result_info: { count: slice.length, per_page: q.per_page, cursor: next } });
    },
    get(ctx: Ctx): Reply {
      return ok(registrationView(ownRegistration(ctx)));
    },
    status(ctx: Ctx): Reply {
      const domain = ctx.params.domain!.toLowerCase();
      const r = state.registrations.find((x) => x.account_id === ctx.account.id && x.domain_name === domain);
      if (!r) throw new Fail('registrar_registration_not_found', { domain });
      if (!r.workflow.completed && typeof r.pending_polls === 'number') {
        if (r.pending_polls === 0) complete(r);
        else r.pending_polls -= 1;
      }
      return ok(workflowView(r));
    },
  };

  // ------------------------------------------------------------ KV, R2, D1, Workers

  const namespaceOf = (ctx: Ctx): KvNamespaceRecord => {
    const ns = state.kvNamespaces.find((n) => n.account_id === ctx.account.id && n.id === ctx.params.namespace_id);
    if (!ns) throw new Fail('kv_namespace_not_found');
    return ns;
  };
  const namespaceView = (n: KvNamespaceRecord): Record<string, unknown> => ({ id: n.id, title: n.title, supports_url_encoding: true });

  const kv = {
    list(ctx: Ctx): Reply {
      let items = state.kvNamespaces.filter((n) => n.account_id === ctx.account.id);
      if (ctx.query.get('order') === 'title') items = [...items].sort((a, b) => a.title.localeCompare(b.title));
      if (ctx.query.get('direction') === 'desc') items = [...items].reverse();
      return paged(items.map(namespaceView), ctx.query, 100);
    },
    create(ctx: Ctx): Reply {
      const body = ctx.json(z.object({ title: z.string().min(1).max(512) }));
      if (state.kvNamespaces.some((n) => n.account_id === ctx.account.id && n.title === body.title)) throw new Fail('kv_namespace_exists');
      const ns: KvNamespaceRecord = { account_id: ctx.account.id, id: hex32(), title: body.title, values: new Map() };
      state.kvNamespaces.push(ns);
      return ok(namespaceView(ns));
    },
    get(ctx: Ctx): Reply {
      return ok(namespaceView(namespaceOf(ctx)));
    },
    remove(ctx: Ctx): Reply {
      const ns = namespaceOf(ctx);
      state.kvNamespaces.splice(state.kvNamespaces.indexOf(ns), 1);
      return ok({});
    },
    async putValue(ctx: Ctx): Promise<Reply> {
      const ns = namespaceOf(ctx);
      let bytes = ctx.body;
      if (isMultipart(ctx.headers)) {
        const value = (await formData(ctx.headers, ctx.body)).get('value');
        if (value === null) throw new Fail('invalid_request', { detail: 'value: required' });
        bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(await value.arrayBuffer());
      }
      ns.values.set(ctx.params.key!, bytes);
      return ok({});
    },
    getValue(ctx: Ctx): Reply {
      const value = namespaceOf(ctx).values.get(ctx.params.key!);
      if (!value) throw new Fail('kv_key_not_found');
      return { status: 200, raw: { bytes: value, contentType: 'application/octet-stream' } };
    },
    deleteValue(ctx: Ctx): Reply {
      namespaceOf(ctx).values.delete(ctx.params.key!);
      return ok({});
    },
  };

  const bucketView = (b: R2BucketRecord): Record<string, unknown> => ({
    name: b.name,
    creation_date: b.creation_date,
    location: b.location,
    storage_class: b.storage_class,
    jurisdiction: 'default',
  });
  const bucketOf = (ctx: Ctx): R2BucketRecord => {
    const b = state.r2Buckets.find((x) => x.account_id === ctx.account.id && x.name === ctx.params.bucket);
    if (!b) throw new Fail('r2_bucket_not_found');
    return b;
  };
  const r2 = {
    list(ctx: Ctx): Reply {
      const items = state.r2Buckets.filter((b) => b.account_id === ctx.account.id);
      return ok({ buckets: items.map(bucketView) }, { result_info: { cursor: '', per_page: 1000 } });
    },
    create(ctx: Ctx): Reply {
      const body = ctx.json(
        z.object({
          name: z.string(),
          locationHint: z.enum(['apac', 'eeur', 'enam', 'weur', 'wnam', 'oc']).optional(),
          storageClass: z.enum(['Standard', 'InfrequentAccess']).optional(),
        }),
      );
      if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(body.name)) throw new Fail('r2_invalid_bucket_name');
      if (state.r2Buckets.some((b) => b.account_id === ctx.account.id && b.name === body.name)) throw new Fail('r2_bucket_exists');
      const bucket: R2BucketRecord = {
        account_id: ctx.account.id,
        name: body.name,
        creation_date: new Date(nowMs()).toISOString(),
        location: (body.locationHint ?? 'enam').toUpperCase(),
        storage_class: body.storageClass ?? 'Standard',
      };
      state.r2Buckets.push(bucket);
      return ok(bucketView(bucket));
    },
    get(ctx: Ctx): Reply {
      return ok(bucketView(bucketOf(ctx)));
    },
    remove(ctx: Ctx): Reply {
      const b = bucketOf(ctx);
      state.r2Buckets.splice(state.r2Buckets.indexOf(b), 1);
      return ok({});
    },
  };

  const databaseView = (d: D1DatabaseRecord): Record<string, unknown> => ({
    uuid: d.uuid,
    name: d.name,
    created_at: d.created_at,
    version: 'production',
    num_tables: 0,
    file_size: 0,
    jurisdiction: null,
  });
  const databaseOf = (ctx: Ctx): D1DatabaseRecord => {
    const d = state.d1Databases.find((x) => x.account_id === ctx.account.id && x.uuid === ctx.params.database_id);
    if (!d) throw new Fail('d1_not_found', { uuid: ctx.params.database_id ?? '' });
    return d;
  };
  const d1 = {
    list(ctx: Ctx): Reply {
      const name = ctx.query.get('name');
      const items = state.d1Databases.filter((d) => d.account_id === ctx.account.id && (!name || d.name === name));
      return paged(items.map(databaseView), ctx.query, 10_000);
    },
    create(ctx: Ctx): Reply {
      const body = ctx.json(
        z.object({
          name: z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9_-]*$/i, 'letters, digits, - and _'),
          primary_location_hint: z.enum(['wnam', 'enam', 'weur', 'eeur', 'apac', 'oc']).optional(),
        }),
      );
      if (state.d1Databases.some((d) => d.account_id === ctx.account.id && d.name === body.name)) throw new Fail('d1_name_taken');
      const db: D1DatabaseRecord = { account_id: ctx.account.id, uuid: randomUUID(), name: body.name, created_at: new Date(nowMs()).toISOString() };
      state.d1Databases.push(db);
      return ok(databaseView(db));
    },
    get(ctx: Ctx): Reply {
      return ok(databaseView(databaseOf(ctx)));
    },
    remove(ctx: Ctx): Reply {
      const d = databaseOf(ctx);
      state.d1Databases.splice(state.d1Databases.indexOf(d), 1);
      return ok(null);
    },
  };

  const scriptView = (s: WorkerScriptRecord): Record<string, unknown> => {
    const meta = s.metadata;
    return {
      id: s.name,
      etag: s.etag,
      created_on: s.created_on,
      modified_on: s.modified_on,
      handlers: ['fetch'],
      has_modules: typeof meta.main_module === 'string',
      usage_model: 'standard',
      ...(typeof meta.compatibility_date === 'string' ? { compatibility_date: meta.compatibility_date } : {}),
    };
  };
  const scriptOf = (ctx: Ctx): WorkerScriptRecord => {
    const s = state.workerScripts.find((x) => x.account_id === ctx.account.id && x.name === ctx.params.script);
    if (!s) throw new Fail('script_not_found');
    return s;
  };
  const scripts = {
    list(ctx: Ctx): Reply {
      return ok(state.workerScripts.filter((s) => s.account_id === ctx.account.id).map(scriptView));
    },
    async upload(ctx: Ctx): Promise<Reply> {
      const name = ctx.params.script!;
      if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name)) throw new Fail('invalid_request', { detail: 'script name: lowercase letters, digits, - and _' });
      let metadata: Record<string, unknown> = {};
      const parts: WorkerScriptRecord['parts'] = [];
      if (isMultipart(ctx.headers)) {
        // Two encodings reach this endpoint: wrangler's (a JSON `metadata` part,
        // one part per module) and the SDK's (`metadata[...]` fields, `files[]`).
        const form = await formData(ctx.headers, ctx.body);
        for (const [field, value] of form.entries()) {
          const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(await value.arrayBuffer());
          if (field === 'metadata') {
            try {
              metadata = z.record(z.string(), z.unknown()).parse(JSON.parse(bytes.toString('utf8')));
            } catch {
              throw new Fail('invalid_request', { detail: 'metadata: not a JSON object' });
            }
          } else if (field.startsWith('metadata[')) {
            const segments = [...field.slice('metadata'.length).matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!);
            setFormPath(metadata, segments, bytes.toString('utf8'));
          } else {
            parts.push({ name: typeof value === 'string' ? field : value.name || field, type: typeof value === 'string' ? 'text/plain' : value.type, bytes });
          }
        }
      } else {
        // A body labelled as JavaScript is a service-worker script. The SDK
        // (7.3.0) labels its multipart body application/javascript unless the
        // caller clears Content-Type; as a script that is a syntax error.
        const contentType = String(ctx.headers['content-type'] ?? 'application/javascript');
        if (looksMultipart(ctx.body)) throw new Fail('script_syntax_error', { content_type: contentType });
        parts.push({ name: 'script', type: contentType, bytes: ctx.body });
      }
      if (parts.length === 0) throw new Fail('invalid_request', { detail: 'no script part' });
      const now = nowIso();
      const existing = state.workerScripts.find((s) => s.account_id === ctx.account.id && s.name === name);
      const record: WorkerScriptRecord = {
        account_id: ctx.account.id,
        name,
        created_on: existing?.created_on ?? now,
        modified_on: now,
        etag: hex32() + hex32(),
        metadata,
        parts,
      };
      if (existing) state.workerScripts.splice(state.workerScripts.indexOf(existing), 1, record);
      else state.workerScripts.push(record);
      return ok({ ...scriptView(record), startup_time_ms: 0 });
    },
    content(ctx: Ctx): Reply {
      const s = scriptOf(ctx);
      const meta = s.metadata;
      const main = s.parts.find((p) => p.name === meta.main_module || p.name === meta.body_part) ?? s.parts[0]!;
      return { status: 200, raw: { bytes: main.bytes, contentType: 'application/javascript' } };
    },
    remove(ctx: Ctx): Reply {
      const s = scriptOf(ctx);
      state.workerScripts.splice(state.workerScripts.indexOf(s), 1);
      return ok(null);
    },
  };

  // ------------------------------------------------------------ routes

  const A = '/accounts/(?<account_id>[^/]+)';
  const route = (method: string, pattern: string, need: Need, handle: Route['handle']): Route => ({
    method,
    pattern: new RegExp(`^${pattern}$`),
    need,
    handle,
  });
  const ROUTES: Route[] = [
    route('GET', '/user/tokens/verify', { kind: 'verify', owner: 'user' }, (c) => tokenHandlers.verify(c, 'user')),
    route('GET', '/user/tokens/permission_groups', NEED.userTokensRead, (c) => tokenHandlers.permissionGroups(c, 'user')),
    route('GET', '/user/tokens', NEED.userTokensRead, (c) => tokenHandlers.list(c)),
    route('POST', '/user/tokens', NEED.userTokensWrite, (c) => tokenHandlers.create(c)),
    route('PUT', '/user/tokens/(?<token_id>[^/]+)/value', NEED.userTokensWrite, (c) => tokenHandlers.roll(c)),
    route('GET', '/user/tokens/(?<token_id>[^/]+)', NEED.userTokensRead, (c) => tokenHandlers.get(c)),
    route('PUT', '/user/tokens/(?<token_id>[^/]+)', NEED.userTokensWrite, (c) => tokenHandlers.update(c)),
    route('DELETE', '/user/tokens/(?<token_id>[^/]+)', NEED.userTokensWrite, (c) => tokenHandlers.remove(c)),
    route('GET', '/user', NEED.userDetails, () => ok(state.user)),
    route('GET', '/memberships', NEED.memberships, (c) =>
      paged(
        state.accounts.map((a) => ({
          id: createHash('sha256').update(`membership:${userId}:${a.id}`).digest('hex').slice(0, 32),
          account: accountView(a),
          ...IDENTITY.membership,
        })),
        c.query,
        50,
      ),
    ),
    route('GET', '/accounts', { kind: 'token' }, (c) => paged(visibleAccounts(c.token).map(accountView), c.query, 50)),
    route('GET', A, NEED.accountSettings, (c) => ok(accountView(c.account))),

    route('GET', `${A}/tokens/verify`, { kind: 'verify', owner: 'account' }, (c) => tokenHandlers.verify(c, 'account')),
    route('GET', `${A}/tokens/permission_groups`, NEED.accountTokensRead, (c) => tokenHandlers.permissionGroups(c, 'account')),
    route('GET', `${A}/tokens`, NEED.accountTokensRead, (c) => tokenHandlers.list(c)),
    route('POST', `${A}/tokens`, NEED.accountTokensWrite, (c) => tokenHandlers.create(c)),
    route('PUT', `${A}/tokens/(?<token_id>[^/]+)/value`, NEED.accountTokensWrite, (c) => tokenHandlers.roll(c)),
    route('GET', `${A}/tokens/(?<token_id>[^/]+)`, NEED.accountTokensRead, (c) => tokenHandlers.get(c)),
    route('PUT', `${A}/tokens/(?<token_id>[^/]+)`, NEED.accountTokensWrite, (c) => tokenHandlers.update(c)),
    route('DELETE', `${A}/tokens/(?<token_id>[^/]+)`, NEED.accountTokensWrite, (c) => tokenHandlers.remove(c)),

    route('POST', `${A}/registrar/domain-check`, NEED.registrarRead, (c) => registrar.check(c)),
    route('GET', `${A}/registrar/domain-search`, NEED.registrarRead, (c) => registrar.search(c)),
    route('POST', `${A}/registrar/registrations`, NEED.registrarWrite, (c) => registrar.create(c)),
    route('GET', `${A}/registrar/registrations`, NEED.registrarRead, (c) => registrar.list(c)),
    route('GET', `${A}/registrar/registrations/(?<domain>[^/]+)/registration-status`, NEED.registrarRead, (c) => registrar.status(c)),
    route('GET', `${A}/registrar/registrations/(?<domain>[^/]+)`, NEED.registrarRead, (c) => registrar.get(c)),

    route('GET', `${A}/storage/kv/namespaces`, NEED.kvRead, (c) => kv.list(c)),
    route('POST', `${A}/storage/kv/namespaces`, NEED.kvWrite, (c) => kv.create(c)),
    route('PUT', `${A}/storage/kv/namespaces/(?<namespace_id>[^/]+)/values/(?<key>[^/]+)`, NEED.kvWrite, (c) => kv.putValue(c)),
    route('GET', `${A}/storage/kv/namespaces/(?<namespace_id>[^/]+)/values/(?<key>[^/]+)`, NEED.kvRead, (c) => kv.getValue(c)),
    route('DELETE', `${A}/storage/kv/namespaces/(?<namespace_id>[^/]+)/values/(?<key>[^/]+)`, NEED.kvWrite, (c) => kv.deleteValue(c)),
    route('GET', `${A}/storage/kv/namespaces/(?<namespace_id>[^/]+)`, NEED.kvRead, (c) => kv.get(c)),
    route('DELETE', `${A}/storage/kv/namespaces/(?<namespace_id>[^/]+)`, NEED.kvWrite, (c) => kv.remove(c)),

    route('GET', `${A}/r2/buckets`, NEED.r2Read, (c) => r2.list(c)),
    route('POST', `${A}/r2/buckets`, NEED.r2Write, (c) => r2.create(c)),
    route('GET', `${A}/r2/buckets/(?<bucket>[^/]+)`, NEED.r2Read, (c) => r2.get(c)),
    route('DELETE', `${A}/r2/buckets/(?<bucket>[^/]+)`, NEED.r2Write, (c) => r2.remove(c)),

    route('GET', `${A}/d1/database`, NEED.d1Read, (c) => d1.list(c)),
    route('POST', `${A}/d1/database`, NEED.d1Write, (c) => d1.create(c)),
    route('GET', `${A}/d1/database/(?<database_id>[^/]+)`, NEED.d1Read, (c) => d1.get(c)),
    route('DELETE', `${A}/d1/database/(?<database_id>[^/]+)`, NEED.d1Write, (c) => d1.remove(c)),

    route('GET', `${A}/workers/scripts`, NEED.scriptsRead, (c) => scripts.list(c)),
    route('PUT', `${A}/workers/scripts/(?<script>[^/]+)`, NEED.scriptsWrite, (c) => scripts.upload(c)),
    route('GET', `${A}/workers/scripts/(?<script>[^/]+)`, NEED.scriptsRead, (c) => scripts.content(c)),
    route('DELETE', `${A}/workers/scripts/(?<script>[^/]+)`, NEED.scriptsWrite, (c) => scripts.remove(c)),
  ];

  function findRoute(method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | null {
    let pathMatched = false;
    for (const r of ROUTES) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method) continue;
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.groups ?? {})) {
        try {
          params[k] = decodeURIComponent(v);
        } catch {
          throw new Fail('invalid_request', { detail: `${k}: bad percent-encoding` });
        }
      }
      return { route: r, params };
    }
    return pathMatched ? 'method' : null;
  }

  // ------------------------------------------------------------ dispatch

  async function dispatch(req: IncomingMessage, record: RequestRecord, path: string, query: URLSearchParams, body: Buffer): Promise<Reply> {
    try {
      return await authorizeAndHandle(req, record, path, query, body);
    } catch (e) {
      if (e instanceof Fail) return failure(e.key, e.vars, e.headers);
      throw e;
    }
  }

  async function authorizeAndHandle(req: IncomingMessage, record: RequestRecord, path: string, query: URLSearchParams, body: Buffer): Promise<Reply> {
    const method = record.method;
    const found = findRoute(method, path);
    const isVerify = found !== null && found !== 'method' && found.route.need.kind === 'verify';

    const header = req.headers.authorization;
    if (header === undefined) {
      record.auth = 'missing';
      return failure(isVerify ? 'invalid_token_verify' : 'authentication_error');
    }
    const m = /^Bearer ([A-Za-z0-9._~+/=-]{1,256})$/.exec(header);
    if (!m) {
      record.auth = 'malformed';
      return failure('invalid_auth_header');
    }
    const id = idByValue.get(m[1]!);
    const token = id === undefined ? undefined : liveToken(id);
    if (!token) {
      const old = retired.get(digest(m[1]!));
      record.token_id = old?.id ?? null;
      record.auth = old?.why ?? 'unknown';
      return failure(isVerify ? 'invalid_token_verify' : 'authentication_error');
    }
    record.token_id = token.id;
    record.auth = usability(token);
    if (record.auth !== 'ok') return failure(isVerify ? 'invalid_token_verify' : 'authentication_error');
    token.last_used_on = nowIso();

    if (found === null) return failure('no_route');
    if (found === 'method') return failure('method_not_allowed');
    const { route: r, params } = found;

    let acct: DoubleAccount | undefined;
    if (params.account_id !== undefined) {
      const id = params.account_id;
      acct = state.accounts.find((a) => a.id === id);
      if (!acct) {
        const wildcard = token.owner.kind === 'user' && token.policies.some((p) => p.effect === 'allow' && p.resources[`${ACCOUNT_SCOPE}.*`] === '*');
        if (wildcard && r.need.kind !== 'verify') return failure('object_not_found', { path: `/client/v4${path}` });
        return failure(r.need.kind === 'verify' ? 'invalid_token_verify' : 'unauthorized');
      }
    }
    const need = r.need;
    if (need.kind === 'user' && !grants(token, { kind: 'user', id: userId }, need.group)) return failure('unauthorized');
    if (need.kind === 'account' && !grants(token, { kind: 'account', id: acct!.id }, need.group)) return failure('unauthorized');

    const ctx: Ctx = {
      method,
      path,
      params,
      query,
      headers: req.headers,
      body,
      token,
      account: acct ?? firstAccount,
      json<T>(schema: z.ZodType<T>): T {
        let value: unknown = {};
        if (body.length > 0) {
          try {
            value = JSON.parse(body.toString('utf8'));
          } catch {
            throw new Fail('malformed_json');
          }
        }
        return parseWith(schema, value);
      },
    };
    return await r.handle(ctx);
  }

  function send(res: ServerResponse, reply: Reply): void {
    const headers: Record<string, string> = {
      'cf-ray': `${randomBytes(8).toString('hex')}-DBL`,
      ...(reply.headers ?? {}),
    };
    if (reply.raw) {
      res.writeHead(reply.status, { ...headers, 'content-type': reply.raw.contentType, 'content-length': String(reply.raw.bytes.length) });
      res.end(reply.raw.bytes);
      return;
    }
    const text = JSON.stringify(reply.json ?? null);
    res.writeHead(reply.status, { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  function take<T extends { times: number }>(list: T[], test: (f: T) => boolean): T | undefined {
    const i = list.findIndex(test);
    if (i < 0) return undefined;
    const f = list[i]!;
    f.times -= 1;
    if (f.times <= 0) list.splice(i, 1);
    return f;
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const parsed = new URL(req.url ?? '/', 'http://127.0.0.1');
    const prefix = '/client/v4';
    const path = parsed.pathname.startsWith(`${prefix}/`) ? parsed.pathname.slice(prefix.length) : parsed.pathname;
    const record: RequestRecord = { at: nowIso(), method, path, query: parsed.search, token_id: null, status: 0 };
    state.requests.push(record);
    if (state.requests.length > 10_000) state.requests.shift();
    const reply = (r: Reply): void => {
      record.status = r.status;
      send(res, r);
    };

    const drop = take(drops, (d) => matches(d.match, d.method, method, path));
    if (drop && !drop.after) {
      record.status = 'dropped';
      req.socket.destroy();
      return;
    }
    if (rateLimit.remaining > 0) {
      rateLimit.remaining -= 1;
      req.resume();
      return reply(failure('rate_limited', {}, { 'Retry-After': String(rateLimit.retryAfter) }));
    }
    const injected = take(failures, (f) => matches(f.match, f.method, method, path));
    if (injected) {
      req.resume();
      return reply({
        status: injected.status,
        json: {
          success: false,
          errors: [{ code: injected.code ?? CLOUDFLARE_ERRORS.internal_error.code, message: injected.message ?? CLOUDFLARE_ERRORS.internal_error.message }],
          messages: [],
          result: null,
        },
      });
    }

    const body = await readBody(req, bodyLimit);
    if (body === 'too-large') return reply(failure('body_too_large', { limit: String(bodyLimit) }));
    if (oauth.handle(req, res, parsed, body)) {
      record.status = res.statusCode;
      return;
    }
    if (!parsed.pathname.startsWith(`${prefix}/`)) return reply(failure('no_route'));

    let out: Reply;
    try {
      out = await dispatch(req, record, path, parsed.searchParams, body);
    } catch (e) {
      state.internalErrors.push(`${method} ${path}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      out = failure('internal_error');
    }
    if (drop?.after) {
      record.status = 'dropped';
      req.socket.destroy();
      return;
    }
    reply(out);
  }

  // ------------------------------------------------------------ server

  const server = createServer({ requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 1_000 }, (req, res) => {
    onRequest(req, res).catch((e: unknown) => {
      state.internalErrors.push(`${req.method} ${req.url}: ${String(e)}`);
      if (!res.headersSent) send(res, failure('internal_error'));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/client/v4`;

  const parentSpec = options.parentToken ?? {};
  const parentPolicies: TokenPolicyInput[] = [];
  const parentUser = parentSpec.user ?? DEFAULT_PARENT_PERMISSIONS.user;
  const parentAccount = parentSpec.account ?? DEFAULT_PARENT_PERMISSIONS.account;
  if (parentUser.length) parentPolicies.push(...policiesFor({ user: parentUser }));
  if (parentAccount.length) {
    parentPolicies.push({
      effect: 'allow',
      permission_groups: parentAccount.map((n) => ({ id: GROUP_BY_NAME.get(n)!.id })),
      resources: Object.fromEntries(state.accounts.map((a) => [`${ACCOUNT_SCOPE}.${a.id}`, '*'])),
    });
  }
  const parent = seed({
    name: parentSpec.name ?? 'agentprov parent token',
    value: parentSpec.value,
    policies: [...parentPolicies, ...(parentSpec.policies ?? [])],
    expires_on: parentSpec.expires_on,
    not_before: parentSpec.not_before,
    status: parentSpec.status,
  });

  const normDomain = (d: string): string => d.trim().toLowerCase();
  const USER_GROUPS = /^(API Tokens|Memberships|User Details) /;
  const oauth = createOAuthDouble(
    {
      now: nowMs,
      groups: PERMISSION_GROUP_NAMES,
      isUserGroup: (g) => USER_GROUPS.test(g),
      scopeOf: oauthScopeOf,
      mint(grantId, groups, expiresOn) {
        const names = groups as PermissionGroupName[];
        const user = names.filter((g) => USER_GROUPS.test(g));
        const acct = names.filter((g) => !USER_GROUPS.test(g));
        const policies: TokenPolicyInput[] = [...policiesFor({ user })];
        if (acct.length) policies.push({ effect: 'allow', permission_groups: acct.map((n) => ({ id: GROUP_BY_NAME.get(n)!.id })), resources: Object.fromEntries(state.accounts.map((a) => [`${ACCOUNT_SCOPE}.${a.id}`, '*'])) });
        if (!policies.length) policies.push(...policiesFor({ account: ['Account Settings Read'] }));
        const made = seed({ name: `oauth access token (grant ${grantId})`, policies, expires_on: expiresOn });
        liveToken(made.id)!.oauth_grant = grantId;
        return made;
      },
      kill(id) {
        const t = liveToken(id);
        if (!t) return;
        t.deleted_on = nowIso();
        retire(id, 'deleted');
      },
    },
    { accessTokenTtlSeconds: options.oauthAccessTokenTtlSeconds ?? 3600 },
  );
  for (const c of options.oauthClients ?? []) oauth.clients.set(c.client_id, c);

  return {
    url,
    oauth,
    oauthUrl: `http://127.0.0.1:${port}`,
    accountId: firstAccount.id,
    userId,
    parent,
    state,
    permissionGroupId: (name) => GROUP_BY_NAME.get(name)!.id,
    policies: policiesFor,
    createToken: (spec = {}) => seed(spec),
    token: liveToken,
    now: () => new Date(nowMs()),
    advanceTime(ms) {
      offset += ms;
    },
    setBillingProfile(accountId, present) {
      const a = state.accounts.find((x) => x.id === accountId);
      if (!a) throw new Error(`no account ${accountId}`);
      a.billing_profile = present;
    },
    setPrice(extension, registrationCost, renewalCost = registrationCost, currency = 'USD') {
      prices.set(extension.replace(/^\./, '').toLowerCase(), { currency, registration_cost: registrationCost, renewal_cost: renewalCost });
    },
    markTaken(...domains) {
      for (const d of domains) taken.add(normDomain(d));
    },
    markPremium(domain, registrationCost, renewalCost = registrationCost) {
      const d = normDomain(domain);
      const base = prices.get(extensionOf(d));
      premium.set(d, { currency: base?.currency ?? 'USD', registration_cost: registrationCost, renewal_cost: renewalCost });
    },
    disallowExtension(extension) {
      disallowed.add(extension.replace(/^\./, '').toLowerCase());
    },
    holdPending(domain, polls) {
      holds.set(normDomain(domain), polls === undefined ? 'until-released' : polls);
    },
    release(domain) {
      for (const r of state.registrations) if (r.domain_name === normDomain(domain) && !r.workflow.completed) complete(r);
    },
    failPending(domain, error) {
      for (const r of state.registrations) {
        if (r.domain_name !== normDomain(domain) || r.workflow.completed) continue;
        const now = nowIso();
        r.workflow = { ...r.workflow, state: 'failed', completed: true, updated_at: now, error };
        r.updated_at = now;
      }
    },
    rateLimitNext(count, retryAfterSeconds) {
      rateLimit = { remaining: count, retryAfter: retryAfterSeconds };
    },
    failNext(match, status, opts = {}) {
      failures.push({ match, status, times: opts.times ?? 1, ...(opts.method ? { method: opts.method } : {}), ...(opts.code !== undefined ? { code: opts.code } : {}), ...(opts.message ? { message: opts.message } : {}) });
    },
    dropNext(opts = {}) {
      drops.push({ after: opts.after ?? false, times: opts.times ?? 1, ...(opts.match !== undefined ? { match: opts.match } : {}), ...(opts.method ? { method: opts.method } : {}) });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
