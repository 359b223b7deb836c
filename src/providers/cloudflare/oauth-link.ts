/**
 * Linking Cloudflare by OAuth consent (issue 19), and unlinking either kind
 * of link.
 *
 * A human at a terminal: the browser opens Cloudflare's consent page
 * (authorization code + PKCE S256 and `state`, through the sign-in's one-shot
 * loopback listener on 127.0.0.1, src/auth/browser-flow.ts) with the scopes
 * the catalog's services need; the code is exchanged, the account picked as
 * for a pasted token, and the grant stored in the vault bound to the
 * signed-in agentprov user (oauth-grant.ts).
 *
 * An agent (no terminal): PROVIDER_NOT_LINKED with the consent URL in
 * `details.authorization_url`, and the command a human runs on this machine:
 * the redirect must come back to this machine's loopback, and Cloudflare
 * offers no device authorization grant for third-party clients.
 */
import * as z from 'zod';
import { appendAudit } from '../../audit/log.js';
import type { AuditDetailValue } from '../../audit/record.js';
import { authorizationCodeFlow } from '../../auth/browser-flow.js';
import { getSession } from '../../auth/session.js';
import type { Deps, SecretVault } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { CLOUDFLARE_PROVIDER_ID as PROVIDER } from '../../catalog/builtin/cloudflare.js';
import { cloudflareClient } from './client.js';
import { RELINK } from './errors.js';
import { listAccounts, LinkSchema, pickAccount, type AccountChoice, type Link, type LinkOutcome } from './link.js';
import { consentUrl, oauthConfig, oauthFailure, parseTokens, REGISTERED_REDIRECT } from './oauth.js';
import { LINK_ENTRY, newOAuthLink, OAuthLinkSchema, readOAuthLink, revokeOAuthGrant, type OAuthLink } from './oauth-grant.js';

/** How long the browser consent may take. */
export const CONSENT_TIMEOUT_MS = 5 * 60_000;

/** The stored link of either kind (a pasted API token, or an OAuth grant), or undefined. */
export async function readAnyLink(vault: SecretVault): Promise<Link | OAuthLink | undefined> {
  const raw = await vault.get(LINK_ENTRY);
  if (raw === undefined) return undefined;
  const parsed = z.union([LinkSchema, OAuthLinkSchema]).safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

export interface OAuthLinkRequest {
  apiUrl: string;
  oauthUrl: string;
  clientId: string;
  /** The OAuth scopes to ask for (catalog.linkOAuthScopes). */
  scopes: string[];
  account?: string;
  chooseAccount?: (accounts: AccountChoice[]) => Promise<string>;
  /** Open the URL in the human's browser (false: only print it). */
  openBrowser: boolean;
  timeoutMs?: number;
}

/** What an agent gets: exit 3 with the consent URL a human approves after running the link command on this machine. */
export async function consentRequired(req: Pick<OAuthLinkRequest, 'oauthUrl' | 'clientId' | 'scopes'>): Promise<AgentprovError> {
  const url = await consentUrl(oauthConfig(req.oauthUrl, req.clientId), REGISTERED_REDIRECT, req.scopes.join(' '));
  return new AgentprovError(
    'PROVIDER_NOT_LINKED',
    `agentprov is not linked to a Cloudflare account: a human on this machine runs \`${RELINK}\` and approves Cloudflare's consent page in a browser (the browser must come back to this machine's loopback address, so the agent cannot finish this itself)`,
    {
      details: { provider: PROVIDER, authorization_url: url, client_id: req.clientId, scope: req.scopes.join(' ') },
      nextSteps: [`${RELINK}   (a human, at a terminal on this machine)`],
    },
  );
}

/** Consent in the browser, exchange, pick the account, store, audit. */
export async function linkCloudflareOAuth(deps: Deps, req: OAuthLinkRequest): Promise<LinkOutcome & { via: 'oauth'; scope: string }> {
  const session = await getSession(deps);
  if (!deps.canPrompt()) throw await consentRequired(req);
  const config = oauthConfig(req.oauthUrl, req.clientId);
  const scope = req.scopes.join(' ');
  let raw;
  try {
    raw = await authorizationCodeFlow(config, {
      timeoutMs: req.timeoutMs ?? CONSENT_TIMEOUT_MS,
      scope,
      oidc: false,
      present: async (url) => {
        deps.io.err(`Cloudflare consent URL: ${url}\n`);
        const opened = req.openBrowser && (await deps.browser.open(url));
        deps.io.err(opened ? 'Opened your browser; approve agentprov there.\n' : 'Open the URL above in a browser on this machine and approve agentprov.\n');
      },
    });
  } catch (err) {
    throw oauthFailure(err, 'authorization');
  }
  const tokens = parseTokens(raw, 'token');
  deps.io.redactor.add(tokens.access_token);
  if (tokens.refresh_token) deps.io.redactor.add(tokens.refresh_token);

  const ctx = cloudflareClient(req.apiUrl, tokens.access_token, deps.io.redactor);
  const account = await pickAccount(await listAccounts(ctx), req);
  const link = newOAuthLink(
    deps,
    {
      api_url: req.apiUrl,
      oauth_url: req.oauthUrl,
      client_id: req.clientId,
      account_id: account.id,
      account_name: account.name,
      issuer: session.claims.issuer,
      subject: session.claims.subject,
      linked_at: deps.clock.now().toISOString(),
    },
    tokens,
    scope,
  );
  const vault = await deps.vault();
  const previous = await readAnyLink(vault);
  await vault.set(LINK_ENTRY, link);
  const outcome: LinkOutcome & { via: 'oauth'; scope: string } = {
    provider: PROVIDER,
    account_id: account.id,
    account_name: account.name,
    token_id: '',
    api_url: req.apiUrl,
    owner: 'user',
    relinked: previous !== undefined,
    warnings: [],
    via: 'oauth',
    scope: link.scope,
  };
  // A grant this one replaces is given back, so no refresh token outlives the link.
  if (previous && 'kind' in previous && previous.refresh_token !== link.refresh_token) {
    await revokeOAuthGrant(deps, previous).catch((e: unknown) => outcome.warnings.push(`the previous Cloudflare grant was not revoked (${sanitizeLine((e as Error)?.message ?? String(e)).slice(0, 160)})`));
  }
  await audit(deps, 'provider_linked', { account_id: account.id, via: 'oauth', client_id: req.clientId, scope: link.scope, api_url: req.apiUrl, relinked: outcome.relinked }, outcome.warnings);
  return outcome;
}

export interface UnlinkOutcome {
  provider: string;
  unlinked: boolean;
  via: 'oauth' | 'api_token' | null;
  revoked_at_cloudflare: boolean;
  warnings: string[];
}

/**
 * Ends the link: an OAuth grant is revoked at Cloudflare first (RFC 7009),
 * then forgotten; a pasted API token is forgotten (Cloudflare keeps it until
 * a human deletes it in the dashboard, which the warning says).
 */
export async function unlinkCloudflare(deps: Deps): Promise<UnlinkOutcome> {
  await getSession(deps);
  const vault = await deps.vault();
  const link = await readAnyLink(vault);
  if (!link) {
    await vault.delete(LINK_ENTRY); // an unreadable entry goes too
    return { provider: PROVIDER, unlinked: false, via: null, revoked_at_cloudflare: false, warnings: [] };
  }
  const warnings: string[] = [];
  let revoked = false;
  if ('kind' in link) {
    await revokeOAuthGrant(deps, (await readOAuthLink(deps)) ?? link);
    revoked = true;
  } else {
    warnings.push('the pasted Cloudflare API token is forgotten here but still valid at Cloudflare: delete it at https://dash.cloudflare.com/profile/api-tokens');
  }
  await vault.delete(LINK_ENTRY);
  await audit(deps, 'provider_unlinked', { account_id: link.account_id, via: 'kind' in link ? 'oauth' : 'api_token', revoked_at_cloudflare: revoked }, warnings);
  return { provider: PROVIDER, unlinked: true, via: 'kind' in link ? 'oauth' : 'api_token', revoked_at_cloudflare: revoked, warnings };
}

async function audit(deps: Deps, decision: string, details: Record<string, AuditDetailValue>, warnings: string[]): Promise<void> {
  try {
    await appendAudit(deps, { command: 'providers link', provider: PROVIDER, decision, details });
  } catch (err) {
    warnings.push(`audit log not written (${sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 200)})`);
  }
}
