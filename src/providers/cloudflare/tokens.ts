/**
 * Cloudflare API tokens, the only credentials agentprov hands out for
 * Cloudflare: verify a token, look permission groups up by name, create a
 * child token narrowed to one account with an `expires_on`, delete it, roll
 * the parent's value.
 *
 * A parent token is either user-owned (`/user/tokens/...`) or account-owned
 * (`/accounts/<id>/tokens/...`); the link records which one verified, and
 * every call here picks the matching endpoints.
 *
 * Policies (Cloudflare "API token policies"): account-scoped permission
 * groups on `com.cloudflare.api.account.<account_id>`; zone-scoped ones on
 * `com.cloudflare.api.account.zone.*` inside that account only.
 */
import * as z from 'zod';
import { AgentprovError } from '../../core/errors.js';
import { callOptions, collect, once, orAbsent, parsed, parseResult, type ClientContext } from './client.js';

export type TokenOwner = 'user' | 'account';

export interface TokenApi extends ClientContext {
  owner: TokenOwner;
  accountId: string;
}

const TokenId = z.string().min(1).max(128);
/** A token value as Cloudflare returns it (40 characters today; bounded generously). */
export const TokenValueSchema = z.string().regex(/^[\x21-\x7e]{20,1024}$/);

const VerifySchema = z.looseObject({
  id: TokenId,
  status: z.string().max(32),
  expires_on: z.string().max(64).nullish(),
  not_before: z.string().max(64).nullish(),
});
export type Verified = z.infer<typeof VerifySchema>;

const PermissionGroupSchema = z.looseObject({
  id: z.string().min(1).max(128),
  name: z.string().min(1).max(200),
  scopes: z.array(z.string().max(200)).max(20).optional(),
});
type PermissionGroup = z.infer<typeof PermissionGroupSchema>;

const TokenDetailSchema = z.looseObject({
  id: TokenId,
  policies: z
    .array(
      z.looseObject({
        effect: z.string().max(10),
        permission_groups: z.array(z.looseObject({ id: z.string().max(128) })).max(500),
        resources: z.record(z.string().max(300), z.unknown()),
      }),
    )
    .max(100)
    .default([]),
});

const CreatedSchema = z.looseObject({
  id: TokenId,
  value: TokenValueSchema,
  expires_on: z.string().max(64).nullish(),
});

const ACCOUNT_RESOURCE = 'com.cloudflare.api.account';
const ZONE_SCOPE = 'com.cloudflare.api.account.zone';

export function verifyCall(owner: TokenOwner): string {
  return owner === 'user' ? 'GET /user/tokens/verify' : 'GET /accounts/:account_id/tokens/verify';
}

/** GET …/tokens/verify with this client's token. */
export function verifyToken(ctx: ClientContext, owner: TokenOwner, accountId?: string): Promise<Verified> {
  return parsed(ctx, verifyCall(owner), VerifySchema, () =>
    owner === 'user' ? ctx.client.user.tokens.verify(callOptions()) : ctx.client.accounts.tokens.verify({ account_id: accountId! }, callOptions()),
  );
}

/** Why a verified token is not usable right now, or undefined when it is active and within its validity. */
export function unusable(v: Verified, now: Date): string | undefined {
  if (v.status !== 'active') return `is ${v.status.replace(/[^a-z_]/gi, '').slice(0, 32) || 'not active'}`;
  if (v.expires_on && Date.parse(v.expires_on) <= now.getTime()) return `expired at ${new Date(Date.parse(v.expires_on)).toISOString()}`;
  if (v.not_before && Date.parse(v.not_before) > now.getTime()) return `is not valid before ${new Date(Date.parse(v.not_before)).toISOString()}`;
  return undefined;
}

/** Permission groups by name, per API, owner and account, once per process. */
const groupCache = new Map<string, Promise<Map<string, PermissionGroup>>>();

export function permissionGroups(api: TokenApi): Promise<Map<string, PermissionGroup>> {
  const key = `${api.apiUrl} ${api.owner} ${api.owner === 'account' ? api.accountId : ''}`;
  let found = groupCache.get(key);
  if (!found) {
    const call = api.owner === 'user' ? 'GET /user/tokens/permission_groups' : 'GET /accounts/:account_id/tokens/permission_groups';
    found = collect(api, call, () => (api.owner === 'user' ? api.client.user.tokens.permissionGroups.list({}, callOptions()) : api.client.accounts.tokens.permissionGroups.list({ account_id: api.accountId }, callOptions())), 2000).then((items) => {
      const byName = new Map<string, PermissionGroup>();
      for (const raw of items) {
        const g = parseResult(api, call, PermissionGroupSchema, raw);
        if (!byName.has(g.name)) byName.set(g.name, g);
      }
      return byName;
    });
    groupCache.set(key, found);
    found.catch(() => groupCache.delete(key));
  }
  return found;
}

/** Forget cached permission groups (tests; a relink). */
export function clearPermissionGroupCache(): void {
  groupCache.clear();
}

/**
 * Ids of the permission groups `tokenId` (the parent) holds on the account,
 * from its own policies (GET …/tokens/:id); undefined when it cannot be read.
 * A child may not be granted more than its parent holds.
 */
export async function heldGroups(api: TokenApi, tokenId: string): Promise<Set<string> | undefined> {
  const call = api.owner === 'user' ? 'GET /user/tokens/:id' : 'GET /accounts/:account_id/tokens/:id';
  let detail;
  try {
    detail = await parsed(api, call, TokenDetailSchema, () =>
      api.owner === 'user' ? api.client.user.tokens.get(tokenId, callOptions()) : api.client.accounts.tokens.get(tokenId, { account_id: api.accountId }, callOptions()),
    );
  } catch {
    return undefined;
  }
  const onAccount = (r: Record<string, unknown>): boolean =>
    Object.keys(r).some((k) => k === `${ACCOUNT_RESOURCE}.${api.accountId}` || k === `${ACCOUNT_RESOURCE}.*`);
  const allowed = new Set<string>();
  const denied = new Set<string>();
  for (const p of detail.policies) {
    if (!onAccount(p.resources)) continue;
    for (const g of p.permission_groups) (p.effect === 'deny' ? denied : allowed).add(g.id);
  }
  for (const id of denied) allowed.delete(id);
  return allowed;
}

/**
 * Policies granting `groupNames` on the account only. Unknown names: an
 * error, or skipped with `lenient`, which also drops groups the parent
 * (`heldBy`) does not hold.
 */
export async function policiesFor(api: TokenApi, groupNames: readonly string[], lenient = false, held?: Set<string>): Promise<Array<{ effect: 'allow'; permission_groups: Array<{ id: string }>; resources: Record<string, string> | Record<string, Record<string, string>> }>> {
  const groups = await permissionGroups(api);
  const account: string[] = [];
  const zone: string[] = [];
  const missing: string[] = [];
  for (const name of new Set(groupNames)) {
    const g = groups.get(name);
    if (!g) {
      missing.push(name);
      continue;
    }
    if (lenient && held && !held.has(g.id)) continue;
    const scopes = g.scopes ?? [ACCOUNT_RESOURCE];
    if (scopes.includes(ACCOUNT_RESOURCE)) account.push(g.id);
    else if (scopes.includes(ZONE_SCOPE)) zone.push(g.id);
    else missing.push(name); // user-level or bucket-level groups are never granted here
  }
  if (missing.length && !lenient) {
    throw new AgentprovError('PROVIDER_ERROR', `Cloudflare offers no account permission group named ${missing.map((m) => `"${m}"`).join(', ')} to this token`, {
      details: { provider: 'cloudflare', permission_groups: missing.join(', ') },
    });
  }
  const accountKey = `${ACCOUNT_RESOURCE}.${api.accountId}`;
  const policies = [];
  if (account.length) policies.push({ effect: 'allow' as const, permission_groups: account.map((id) => ({ id })), resources: { [accountKey]: '*' } });
  if (zone.length) policies.push({ effect: 'allow' as const, permission_groups: zone.map((id) => ({ id })), resources: { [accountKey]: { [`${ZONE_SCOPE}.*`]: '*' } } });
  if (!policies.length) {
    throw new AgentprovError('PROVIDER_ERROR', 'none of the permission groups a child token needs is offered by Cloudflare to this token', {
      details: { provider: 'cloudflare', permission_groups: [...new Set(groupNames)].join(', ') },
    });
  }
  return policies;
}

/** RFC 3339 with whole seconds, never later than `at`. */
export function rfc3339Seconds(at: Date): string {
  return new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface CreatedToken {
  id: string;
  value: string;
  expiresAt: Date;
}

export function createCall(owner: TokenOwner): string {
  return owner === 'user' ? 'POST /user/tokens' : 'POST /accounts/:account_id/tokens';
}

/** POST a child token (never retried blindly: a duplicate would be a token nobody deletes). */
export async function createToken(api: TokenApi, opts: { name: string; groups: readonly string[]; expiresAt: Date; lenient?: boolean; heldBy?: string }): Promise<CreatedToken> {
  const held = opts.lenient && opts.heldBy ? await heldGroups(api, opts.heldBy) : undefined;
  const policies = await policiesFor(api, opts.groups, opts.lenient, held);
  const expires_on = rfc3339Seconds(opts.expiresAt);
  const body = { name: opts.name.slice(0, 120), policies, expires_on };
  const created = await parsed(api, createCall(api.owner), CreatedSchema, () =>
    once((o) => (api.owner === 'user' ? api.client.user.tokens.create(body, o) : api.client.accounts.tokens.create({ account_id: api.accountId, ...body }, o))),
  );
  api.redactor.add(created.value);
  const said = created.expires_on ? Date.parse(created.expires_on) : NaN;
  // Cloudflare echoes expires_on; never report a later expiry than the one asked for.
  const expiresAt = new Date(Math.min(Date.parse(expires_on), Number.isNaN(said) ? Infinity : said));
  return { id: created.id, value: created.value, expiresAt };
}

export function deleteCall(owner: TokenOwner): string {
  return owner === 'user' ? 'DELETE /user/tokens/:id' : 'DELETE /accounts/:account_id/tokens/:id';
}

/** DELETE a token; already gone (404) is fine. */
export async function deleteToken(api: TokenApi, tokenId: string): Promise<void> {
  // Done when the token is gone, a 404 included.
  await orAbsent(api, deleteCall(api.owner), () =>
    api.owner === 'user' ? api.client.user.tokens.delete(tokenId, callOptions()) : api.client.accounts.tokens.delete(tokenId, { account_id: api.accountId }, callOptions()),
  );
}

/** PUT …/tokens/:id/value: a new secret for the same token; the old value stops working. */
export async function rollToken(api: TokenApi, tokenId: string): Promise<string> {
  const call = api.owner === 'user' ? 'PUT /user/tokens/:id/value' : 'PUT /accounts/:account_id/tokens/:id/value';
  const value = await parsed(api, call, TokenValueSchema, () =>
    once((o) => (api.owner === 'user' ? api.client.user.tokens.value.update(tokenId, o) : api.client.accounts.tokens.value.update(tokenId, { account_id: api.accountId }, o))),
  );
  api.redactor.add(value);
  return value;
}
