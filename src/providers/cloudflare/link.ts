/**
 * The link between the signed-in agentprov user and a Cloudflare account: a
 * parent API token a human gave once (`agentprov providers link cloudflare`),
 * kept in the vault entry `cloudflare_link` and written only here.
 *
 *   { v:1, api_url, account_id, account_name, token_id, owner,
 *     parent_token, issuer, subject, linked_at }
 *
 * `parent_token` is a secret-named field, so the vault teaches the output
 * redactor its value whenever the vault is read; the value is also added to
 * the redactor the moment it is read from the human. `api_url` is where the
 * token was verified: every later call with it goes there and nowhere else.
 * `issuer`/`subject` name the agentprov session that linked it: another
 * user signed in on the same machine does not inherit the link.
 *
 * Linking proves, before anything is stored, that the token:
 * 1. verifies as active (user-owned: GET /user/tokens/verify; account-owned:
 *    GET /accounts/<id>/tokens/verify),
 * 2. reaches the chosen account (GET /accounts, paged, bounded),
 * 3. may really create and delete tokens: a probe child token (one narrow
 *    permission on that account, expiring in 2 minutes) is created,
 *    verified with its own value, and deleted.
 */
import * as z from 'zod';
import { appendAudit } from '../../audit/log.js';
import { getSession } from '../../auth/session.js';
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import { sanitizeLine } from '../../util/sanitize.js';
import type { SecretVault } from '../../core/deps.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER, PROBE_PERMISSION_GROUP, SCOPE_PERMISSION_GROUPS } from '../../catalog/builtin/cloudflare.js';
import { callOptions, cloudflareClient, collect, parseResult, type ClientContext } from './client.js';
import { cloudflareError, RELINK } from './errors.js';
import { LINK_ENTRY } from './oauth-grant.js';
import { createToken, deleteToken, heldGroups, permissionGroups, TokenValueSchema, unusable, verifyToken, type TokenApi, type TokenOwner } from './tokens.js';

export { LINK_ENTRY };
/** Lifetime of the probe token `link` creates and deletes again. */
export const PROBE_TTL_SECONDS = 120;
const MAX_ACCOUNTS = 1000;

const AccountId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

export const LinkSchema = z.object({
  v: z.literal(1),
  api_url: z.string().url().max(2048),
  account_id: AccountId,
  account_name: z.string().max(200),
  token_id: z.string().min(1).max(128),
  owner: z.enum(['user', 'account']),
  parent_token: TokenValueSchema,
  issuer: z.string().max(2048),
  subject: z.string().min(1).max(255),
  linked_at: z.string().max(64),
});
export type Link = z.infer<typeof LinkSchema>;

const AccountSchema = z.looseObject({ id: AccountId, name: z.string().max(500).default('') });
export interface AccountChoice {
  id: string;
  name: string;
}

/** The stored link, or undefined when there is none (an unreadable one counts as none). */
export async function readLink(vault: SecretVault): Promise<Link | undefined> {
  const raw = await vault.get(LINK_ENTRY);
  if (raw === undefined) return undefined;
  const parsed = LinkSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export function notLinked(why: string): AgentprovError {
  return new AgentprovError('PROVIDER_NOT_LINKED', `agentprov is not linked to a Cloudflare account${why ? ` (${why})` : ''}: a human runs \`${RELINK}\` once (consent in a browser, or an API token that may create API tokens)`, {
    details: { provider: PROVIDER },
    nextSteps: [RELINK],
  });
}

export interface LinkRequest {
  /** The parent API token, exactly as the human gave it (trimmed). */
  token: string;
  apiUrl: string;
  account?: string;
  /** Asks a human to pick one of several accounts (a TTY); absent: USAGE listing them. */
  chooseAccount?: (accounts: AccountChoice[]) => Promise<string>;
}

export interface LinkOutcome {
  provider: string;
  account_id: string;
  account_name: string;
  token_id: string;
  api_url: string;
  owner: TokenOwner;
  relinked: boolean;
  warnings: string[];
}

/** A token as a human pasted it: one line of printable characters, never echoed back. */
export function checkTokenShape(token: string): string {
  const t = token.trim();
  if (!t) {
    throw new AgentprovError('USAGE', 'no Cloudflare API token was given', { nextSteps: linkHowTo() });
  }
  if (!TokenValueSchema.safeParse(t).success) {
    throw new AgentprovError('USAGE', 'that does not look like a Cloudflare API token (one line of 20-1024 printable characters, no spaces)', { nextSteps: linkHowTo() });
  }
  return t;
}

export function linkHowTo(): string[] {
  return [
    `run \`${RELINK}\` on a terminal and paste the token at the hidden prompt`,
    `or pipe it on standard input, e.g. \`<password-manager> read cloudflare-token | ${RELINK} --json\``,
  ];
}

/** Verify, pick the account, probe token creation, store, audit. */
export async function linkCloudflare(deps: Deps, req: LinkRequest): Promise<LinkOutcome> {
  const session = await getSession(deps);
  const token = checkTokenShape(req.token);
  deps.io.redactor.add(token);
  const ctx = cloudflareClient(req.apiUrl, token, deps.io.redactor);
  const now = deps.clock.now();

  const { owner, verified, accounts } = await identify(ctx, req.account, now);
  const account = await pickAccount(accounts, req);
  const api: TokenApi = { ...ctx, owner, accountId: account.id };
  await probe(deps, api, verified.id);

  const link: Link = {
    v: 1,
    api_url: req.apiUrl,
    account_id: account.id,
    account_name: account.name,
    token_id: verified.id,
    owner,
    parent_token: token,
    issuer: session.claims.issuer,
    subject: session.claims.subject,
    linked_at: deps.clock.now().toISOString(),
  };
  const vault = await deps.vault();
  const relinked = await vault.update((entries) => {
    const had = entries[LINK_ENTRY] !== undefined;
    entries[LINK_ENTRY] = link;
    return had;
  });
  const outcome: LinkOutcome = { provider: PROVIDER, account_id: account.id, account_name: account.name, token_id: verified.id, api_url: req.apiUrl, owner, relinked, warnings: [] };
  try {
    await appendAudit(deps, {
      command: 'providers link',
      provider: PROVIDER,
      decision: 'provider_linked',
      details: { account_id: account.id, token_id: verified.id, token_owner: owner, api_url: req.apiUrl, relinked },
    });
  } catch (err) {
    // The link is stored: a lost audit line is said, not turned into a failure.
    outcome.warnings.push(`audit log not written (${sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 200)})`);
  }
  return outcome;
}

/**
 * Which kind of token this is and which accounts it reaches. A user-owned
 * token verifies at /user/tokens/verify; an account-owned one is refused
 * there and verifies at /accounts/<id>/tokens/verify of its account.
 */
async function identify(ctx: ClientContext, wanted: string | undefined, now: Date): Promise<{ owner: TokenOwner; verified: { id: string }; accounts: AccountChoice[] }> {
  let verified;
  try {
    verified = await verifyToken(ctx, 'user');
  } catch (err) {
    // A malformed value is refused with 400 (6003 "Invalid request headers") before any token is looked up.
    if (err instanceof AgentprovError && err.code === 'PROVIDER_ERROR' && err.details.status === 400) throw offered('was refused by Cloudflare as malformed');
    if (!(err instanceof AgentprovError) || err.code !== 'CLOUDFLARE_LINK_INVALID') throw err;
    // Perhaps account-owned: those are refused by the user endpoint. Find its account and verify there.
    const accounts = await listAccounts(ctx).catch((e: unknown) => {
      throw e instanceof AgentprovError && e.code === 'CLOUDFLARE_LINK_INVALID' ? offered('was refused by Cloudflare') : e;
    });
    for (const a of (wanted ? accounts.filter((x) => x.id === wanted) : accounts).slice(0, 5)) {
      let v;
      try {
        v = await verifyToken(ctx, 'account', a.id);
      } catch (e) {
        if (e instanceof AgentprovError && e.code === 'CLOUDFLARE_LINK_INVALID') continue;
        throw e;
      }
      const why = unusable(v, now);
      if (why) throw offered(why);
      return { owner: 'account', verified: v, accounts: [a] };
    }
    throw offered('was refused by Cloudflare');
  }
  const why = unusable(verified, now);
  if (why) throw offered(why);
  return { owner: 'user', verified, accounts: await listAccounts(ctx) };
}

function offered(why: string): AgentprovError {
  return new AgentprovError('CLOUDFLARE_LINK_INVALID', `the Cloudflare API token offered ${why}; create a valid token (it needs "API Tokens Write") and link again`, {
    details: { provider: PROVIDER },
    nextSteps: ['https://dash.cloudflare.com/profile/api-tokens', RELINK],
  });
}

export async function listAccounts(ctx: ClientContext): Promise<AccountChoice[]> {
  const call = 'GET /accounts';
  const items = await collect(ctx, call, () => ctx.client.accounts.list({ per_page: 50 }, callOptions()), MAX_ACCOUNTS);
  const accounts = items.map((raw) => parseResult(ctx, call, AccountSchema, raw)).map((a) => ({ id: a.id, name: sanitizeLine(a.name).slice(0, 200) }));
  if (!accounts.length) {
    throw new AgentprovError('CLOUDFLARE_PERMISSION_DENIED', 'the Cloudflare API token reaches no account (it needs access to the account agentprov should use)', {
      details: { provider: PROVIDER, call },
      nextSteps: ['https://dash.cloudflare.com/profile/api-tokens', RELINK],
    });
  }
  return accounts;
}

export async function pickAccount(accounts: AccountChoice[], req: Pick<LinkRequest, 'account' | 'chooseAccount'>): Promise<AccountChoice> {
  if (req.account) {
    const found = accounts.find((a) => a.id === req.account);
    if (found) return found;
    throw new AgentprovError('USAGE', `the Cloudflare API token does not reach account ${sanitizeLine(req.account).slice(0, 64)}`, {
      details: { provider: PROVIDER, accounts },
      nextSteps: accounts.slice(0, 3).map((a) => `${RELINK} --account ${a.id}`),
    });
  }
  if (accounts.length === 1) return accounts[0]!;
  if (req.chooseAccount) {
    const id = await req.chooseAccount(accounts);
    const chosen = accounts.find((a) => a.id === id);
    if (chosen) return chosen;
  }
  throw new AgentprovError('USAGE', `the Cloudflare API token reaches ${accounts.length} accounts; say which one with --account`, {
    details: { provider: PROVIDER, accounts: accounts.slice(0, 50) },
    nextSteps: [`${RELINK} --account <id>`],
  });
}

/** One account permission group the parent holds, for the probe: PROBE_PERMISSION_GROUP if it can. */
async function probeGroup(api: TokenApi, tokenId: string): Promise<string> {
  const held = await heldGroups(api, tokenId);
  if (!held) return PROBE_PERMISSION_GROUP;
  const groups = await permissionGroups(api);
  const candidates = [PROBE_PERMISSION_GROUP, ...new Set(Object.values(SCOPE_PERMISSION_GROUPS).flat())];
  return candidates.find((name) => {
    const g = groups.get(name);
    return g && held.has(g.id) && (g.scopes ?? ['com.cloudflare.api.account']).includes('com.cloudflare.api.account');
  }) ?? PROBE_PERMISSION_GROUP;
}

/** Create a narrow, short-lived child token, verify it with its own value, delete it. */
async function probe(deps: Deps, api: TokenApi, tokenId: string): Promise<void> {
  const permission = api.owner === 'user' ? 'API Tokens Write' : 'Account API Tokens Write';
  const cannot = (why: string, err?: AgentprovError): AgentprovError =>
    new AgentprovError('CLOUDFLARE_TOKEN_CANNOT_CREATE_TOKENS', `the Cloudflare API token ${why}: agentprov needs the permission "${permission}" to hand out short-lived child tokens`, {
      details: { provider: PROVIDER, account_id: api.accountId, permission, ...(err ? { code: err.code, call: err.details.call ?? null, status: err.details.status ?? null } : {}) },
      nextSteps: ['https://dash.cloudflare.com/profile/api-tokens', RELINK],
    });
  const refusedCodes = new Set(['CLOUDFLARE_LINK_INVALID', 'CLOUDFLARE_PERMISSION_DENIED']);
  let created;
  try {
    created = await createToken(api, {
      name: `agentprov link probe ${deps.clock.now().toISOString()}`.slice(0, 120),
      groups: [await probeGroup(api, tokenId)],
      expiresAt: new Date(deps.clock.now().getTime() + PROBE_TTL_SECONDS * 1000),
    });
  } catch (err) {
    if (err instanceof AgentprovError && refusedCodes.has(err.code)) throw cannot('may not create API tokens', err);
    if (err instanceof AgentprovError && err.code === 'PROVIDER_ERROR' && err.details.status === 400) throw cannot('could not create a probe token', err);
    throw err;
  }
  let failure: unknown;
  try {
    const probeCtx = cloudflareClient(api.apiUrl, created.value, deps.io.redactor);
    const v = await verifyToken(probeCtx, api.owner, api.accountId).catch((err: unknown) => {
      throw err instanceof AgentprovError && refusedCodes.has(err.code) ? cannot('created a probe token that Cloudflare then refused', err) : err;
    });
    const why = unusable(v, deps.clock.now());
    if (why) throw cannot(`created a probe token that ${why}`);
  } catch (err) {
    failure = err;
  }
  try {
    await deleteToken(api, created.id);
  } catch (err) {
    const e = err instanceof AgentprovError ? err : cloudflareError(err, 'DELETE token', deps.io.redactor);
    // The probe expires by itself within minutes; a token that cannot delete what it creates is useless to agentprov.
    failure ??= refusedCodes.has(e.code) ? cannot('may create but not delete API tokens', e) : e;
  }
  if (failure) throw failure;
}
