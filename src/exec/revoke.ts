/**
 * `agentprov revoke [<provider> | --all]`: the single revocation point. For
 * each provider, in this order:
 *
 *   1. the short-lived tokens `token` cached for it are given back
 *      (`Provider.revoke`: RFC 7009, or a Cloudflare child token deleted);
 *   2. the grant agentprov holds there (`Provider.heldGrant`) is ended at
 *      the provider, retried a bounded number of times when the provider
 *      does not answer; a provider that offers no revocation says so;
 *   3. the grant and the cached tokens are deleted from the vault, always,
 *      also when step 2 failed (the result says so, with the remedy);
 *   4. one audit line.
 *
 * Resources stay (at the provider and in agentprov.json). With `--all`,
 * every provider the catalog layer knows, then the orchestrator session is
 * signed out (src/auth/logout.ts). Revoking twice finds nothing the second
 * time and changes nothing.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError, EXIT, isAgentprovError } from '../core/errors.js';
import { appendAudit } from '../audit/log.js';
import type { Gathered } from '../catalog/gather.js';
import type { HeldGrant, Provider } from '../providers/provider.js';
import { retrying as retry } from '../util/retry.js';
import { sanitizeLine } from '../util/sanitize.js';
import { cachedTokensOf as cachedTokens, dropCachedTokens, type CachedToken } from './token-cache.js';

/** How often a provider that does not answer is asked, and the pauses between. */
export const REVOKE_GRANT_ATTEMPTS = 3;
const RETRY_DELAYS_MS = [250, 1000];

export interface ProviderRevocation {
  provider: string;
  /** What agentprov held there (null: nothing). */
  held: string | null;
  /** The provider confirmed the grant's end (RFC 7009 answered 200). */
  revoked_at_provider: boolean;
  /** Requests made to end the grant (0: none possible or nothing held). */
  attempts: number;
  /** Short-lived tokens of `token` given back and dropped from the vault. */
  cached_tokens: number;
  /** The local copy was deleted (also when the provider could not be reached). */
  deleted_locally: boolean;
  /** What the human can still do at the provider, when it was not revoked there. */
  remedy: string | null;
  /** Why it was not revoked there. */
  error: { code: string; message: string } | null;
}

export interface RevokeRequest {
  /** Provider ids, or every known provider. */
  providers: string[] | 'all';
  /** Injected in tests; real pauses otherwise. */
  sleep?: (ms: number) => Promise<void>;
}

/** The providers a revoke is about: the named one (which must be known), or every id the catalog layer lists. */
export function revokeTargets(gathered: Gathered, req: RevokeRequest): string[] {
  const known = [...new Set(gathered.providers.filter((p) => p.status !== 'skipped' && p.id).map((p) => p.id as string))];
  if (req.providers === 'all') return known.sort();
  for (const id of req.providers) {
    if (!known.includes(id)) {
      throw new AgentprovError('PROVIDER_NOT_FOUND', `no known provider "${sanitizeLine(id).slice(0, 64)}"`, {
        details: { provider: sanitizeLine(id).slice(0, 64) },
        nextSteps: ['agentprov providers list', 'agentprov revoke --all'],
      });
    }
  }
  return [...new Set(req.providers)];
}

export interface RevokeOutcome {
  /** One entry per provider named, or (with --all) per provider where something was held. */
  providers: ProviderRevocation[];
  /** With --all: the orchestrator session signed out. */
  session: { signed_out: boolean; revoked: boolean; issuer: string | null } | null;
  nothing_to_revoke: boolean;
  warnings: string[];
}

export async function revokeGrants(deps: Deps, req: RevokeRequest): Promise<RevokeOutcome> {
  const [{ gatherCatalog }, { signOut }] = await Promise.all([import('../catalog/gather.js'), import('../auth/logout.js')]);
  // Only provider URLs and protocols are read: a stale cached catalog serves, so an unreachable provider is still found.
  const gathered = await gatherCatalog(deps, { refresh: false, staleOk: true });
  const ids = revokeTargets(gathered, req);
  const warnings: string[] = [];
  const providers: ProviderRevocation[] = [];
  for (const id of ids) {
    const r = await revokeProvider(deps, gathered, id, warnings, req.sleep);
    if (r.held !== null || req.providers !== 'all') providers.push(r);
    // Said where an agent looks too: a grant that may still be valid at the provider.
    if (r.held !== null && !r.revoked_at_provider) {
      warnings.push(`${id}: not revoked at the provider (${r.error ? `${r.error.code} after ${r.attempts} attempts` : 'it offers no revocation'}); deleted here anyway. ${r.remedy ?? ''}`.trim());
    }
  }
  let session: RevokeOutcome['session'] = null;
  if (req.providers === 'all') {
    // Tokens cached for providers no longer known go too: nothing of the signed-in human stays.
    await dropCachedTokens(await deps.vault(), '');
    const { warnings: w, ...out } = await signOut(deps);
    warnings.push(...w);
    session = out;
    if (out.signed_out) await audit(deps, warnings, { command: 'revoke', decision: 'signed_out', details: { revoked_at_issuer: out.revoked } });
  }
  const nothing = providers.every((p) => p.held === null) && !session?.signed_out;
  return { providers, session, nothing_to_revoke: nothing, warnings };
}

export async function revokeProvider(deps: Deps, gathered: Gathered, id: string, warnings: string[], sleep?: (ms: number) => Promise<void>): Promise<ProviderRevocation> {
  const { openProvider, forgetUnopened } = await import('../provision/providers.js');
  const vault = await deps.vault();
  const cached = await cachedTokens(vault, id);
  const out: ProviderRevocation = { provider: id, held: null, revoked_at_provider: false, attempts: 0, cached_tokens: 0, deleted_locally: false, remedy: null, error: null };

  let provider: Provider | undefined;
  let openError: unknown;
  const opening = retrying(() => openProvider(deps, id, gathered), sleep);
  try {
    provider = await opening.value;
  } catch (err) {
    openError = err;
  }
  if (!provider) {
    // Its descriptor did not answer: nothing can be sent, the local copy goes anyway.
    const forgotten = await forgetUnopened(deps, id, gathered);
    const dropped = await dropCachedTokens(vault, id);
    if (!forgotten && dropped === 0) return out;
    const e = errorOf(openError);
    return record(deps, warnings, {
      ...out,
      held: forgotten ? 'grant' : 'short-lived tokens',
      cached_tokens: dropped,
      deleted_locally: true,
      attempts: opening.attempts(),
      error: e,
      remedy: `${id} could not be reached (${e.code}): its grant stays valid there until it expires; end agentprov's access in your ${id} account`,
    });
  }

  // 1. Tokens `token` cached: given back one by one (best effort; the grant's end takes them along where the protocol says so).
  await giveBack(deps, provider, cached);
  // 2. The grant, ended at the provider.
  const held: HeldGrant | undefined = await provider.heldGrant?.();
  if (held) {
    out.held = held.what;
    if (held.revoke) {
      const r = retrying(() => held.revoke!(), sleep);
      try {
        await r.value;
        out.revoked_at_provider = true;
      } catch (err) {
        out.error = errorOf(err);
      }
      out.attempts = r.attempts();
    }
    if (!out.revoked_at_provider) out.remedy = held.remedy;
  }
  // 3. The local copy, always.
  const forgotten = held ? await held.forget() : false;
  out.cached_tokens = await dropCachedTokens(vault, id);
  out.deleted_locally = forgotten || out.cached_tokens > 0;
  if (!held && out.cached_tokens === 0) return out;
  if (!held) out.held = 'short-lived tokens';
  return record(deps, warnings, out);
}

/**
 * Short-lived tokens `token` cached for `provider`, given back there one by
 * one (best effort: a token that cannot be revoked is said under --verbose
 * and expires on its own). The caller drops them from the vault.
 */
export async function giveBack(deps: Deps, provider: Provider, cached: CachedToken[]): Promise<void> {
  for (const t of cached) {
    try {
      await provider.revoke({ token: t.access_token, expiresAt: new Date(t.expires_at * 1000), ...(t.id ? { id: t.id } : {}), shortLived: true });
    } catch (err) {
      deps.debug(`cached token of ${provider.id} not given back (${errorOf(err).code})`);
    }
  }
}

/** One audit line per provider whose grant or tokens were ended or forgotten. */
async function record(deps: Deps, warnings: string[], r: ProviderRevocation): Promise<ProviderRevocation> {
  await audit(deps, warnings, {
    command: 'revoke',
    provider: r.provider,
    decision: r.revoked_at_provider ? 'grant_revoked' : 'grant_forgotten',
    details: {
      held: r.held,
      revoked_at_provider: r.revoked_at_provider,
      attempts: r.attempts,
      cached_tokens: r.cached_tokens,
      deleted_locally: r.deleted_locally,
      error: r.error?.code ?? null,
    },
  });
  return r;
}

/** An audit line; a failure to write it is a warning, never a revocation undone. */
async function audit(deps: Deps, warnings: string[], line: Parameters<typeof appendAudit>[1]): Promise<void> {
  try {
    await appendAudit(deps, line);
  } catch (err) {
    warnings.push(`audit log not written (${sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 200)})`);
  }
}

/** `fn`, asked again after a pause while it fails with a provider failure (exit class 5), at most REVOKE_GRANT_ATTEMPTS times. */
export function retrying<T>(fn: () => Promise<T>, sleep?: (ms: number) => Promise<void>): { value: Promise<T>; attempts: () => number } {
  return retry(fn, {
    attempts: REVOKE_GRANT_ATTEMPTS,
    delaysMs: RETRY_DELAYS_MS,
    retryIf: (err) => isAgentprovError(err) && err.exitCode === EXIT.PROVIDER_FAILED,
    ...(sleep ? { sleep } : {}),
  });
}

function errorOf(err: unknown): { code: string; message: string } {
  if (isAgentprovError(err)) return { code: err.code, message: sanitizeLine(err.message).slice(0, 300) };
  return { code: 'INTERNAL', message: sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 300) };
}
