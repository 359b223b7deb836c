/**
 * The OAuth branch of `agentprov providers link cloudflare` (issue 19): which
 * client id is known (--client-id, AGENTPROV_CLOUDFLARE_CLIENT_ID, the
 * orchestrator descriptor's `cloudflare_client_id` saved at init), the
 * consent itself (src/providers/cloudflare/oauth-link.ts), and `--unlink`.
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import { openConfig } from '../../config/settings.js';
import type { CommandResult } from '../output.js';
import { sanitizeLine } from '../../util/sanitize.js';

/** providers-link.ts's LinkUi (not imported: no module cycle). */
interface LinkUi {
  selectAccount(deps: Deps, accounts: Array<{ id: string; name: string }>): Promise<string>;
}

export async function knownClientId(deps: Deps, opts: Record<string, unknown>): Promise<string | undefined> {
  const { CLIENT_ID_ENV } = await import('../../providers/cloudflare/oauth.js');
  const given = typeof opts.clientId === 'string' ? opts.clientId : deps.env[CLIENT_ID_ENV];
  const id = given?.trim() || (await openConfig(deps.paths.config)).read().orchestrator?.cloudflare_client_id;
  if (id !== undefined && !/^[\x21-\x7e]{1,255}$/.test(id)) throw new AgentprovError('USAGE', `"${sanitizeLine(id).slice(0, 64)}" is not a Cloudflare OAuth client id`);
  return id || undefined;
}

export async function linkByConsent(deps: Deps, opts: Record<string, unknown>, base: { apiUrl: string; clientId: string; account?: string }, ui: LinkUi): Promise<CommandResult> {
  const [{ checkOAuthUrl, DEFAULT_OAUTH_URL, OAUTH_URL_ENV }, { linkCloudflareOAuth }, { linkOAuthScopes, LINK_ONLY_SCOPES, SCOPE_PERMISSION_GROUPS }] = await Promise.all([
    import('../../providers/cloudflare/oauth.js'),
    import('../../providers/cloudflare/oauth-link.js'),
    import('../../catalog/builtin/cloudflare.js'),
  ]);
  const extra = Array.isArray(opts.scope) ? opts.scope.map((s) => String(s).trim()) : [];
  const unknown = extra.filter((s) => !SCOPE_PERMISSION_GROUPS[s] && !LINK_ONLY_SCOPES[s]);
  if (unknown.length) {
    throw new AgentprovError('USAGE', `cloudflare has no scope ${unknown.map((s) => `"${sanitizeLine(s).slice(0, 64)}"`).join(', ')}`, {
      details: { known_scopes: [...Object.keys(SCOPE_PERMISSION_GROUPS), ...Object.keys(LINK_ONLY_SCOPES)].join(' ') },
    });
  }
  const outcome = await linkCloudflareOAuth(deps, {
    ...base,
    oauthUrl: checkOAuthUrl(deps.env[OAUTH_URL_ENV] || DEFAULT_OAUTH_URL),
    scopes: linkOAuthScopes(extra),
    openBrowser: deps.env.AGENTPROV_NO_BROWSER !== '1',
    ...(deps.canPrompt() ? { chooseAccount: (accounts: Array<{ id: string; name: string }>) => ui.selectAccount(deps, accounts) } : {}),
  });
  return {
    data: { provider: outcome.provider, account_id: outcome.account_id, account_name: outcome.account_name, api_url: outcome.api_url, via: outcome.via, scope: outcome.scope },
    warnings: outcome.warnings,
    nextSteps: ['agentprov catalog cloudflare', 'agentprov add cloudflare/kv:namespace --name cache'],
    human: `${outcome.relinked ? 're-linked' : 'linked'} Cloudflare account ${outcome.account_name || outcome.account_id} (${outcome.account_id}) by OAuth consent; the grant stays in the vault\n  scopes ${outcome.scope}`,
    bare: outcome.account_id,
  };
}

export async function unlink(deps: Deps): Promise<CommandResult> {
  const [{ unlinkCloudflare }, { cachedTokensOf, dropCachedTokens }, { giveBack }, { openProvider }] = await Promise.all([
    import('../../providers/cloudflare/oauth-link.js'),
    import('../../exec/token-cache.js'),
    import('../../exec/revoke.js'),
    import('../../provision/providers.js'),
  ]);
  // Child API tokens live on at Cloudflare after the grant ends: the ones `token` cached are given back first.
  const vault = await deps.vault();
  const cached = await cachedTokensOf(vault, 'cloudflare');
  if (cached.length) await giveBack(deps, await openProvider(deps, 'cloudflare'), cached);
  const r = await unlinkCloudflare(deps);
  const dropped = await dropCachedTokens(vault, 'cloudflare');
  return {
    data: { ...r, cached_tokens: dropped },
    warnings: r.warnings,
    human: r.unlinked ? `unlinked Cloudflare${r.revoked_at_cloudflare ? ' (the OAuth grant was revoked at Cloudflare)' : ''}` : 'Cloudflare was not linked',
    bare: r.unlinked ? 'unlinked' : 'not-linked',
  };
}
