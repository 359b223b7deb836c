/**
 * Authorization at a provider (docs/protocol-auth.md §§1-4), in this order:
 * 1. a stored grant in the vault → done;
 * 2. with the client id the descriptor publishes (a pre-registered public
 *    client): the attested path — RFC 8693 token exchange of the user's ID
 *    token at the orchestrator for an ID-JAG (audience = the provider's AS),
 *    presented with the RFC 7523 JWT bearer grant, with `terms_version` when
 *    the human accepted the terms;
 * 3. when the AS asks for consent or interaction (or agentprov registered
 *    itself with RFC 7591, whose client an ID-JAG can never name): the RFC
 *    8628 device flow at the provider's AS (consent.ts) — waited for on a
 *    TTY, stored and exited with CONSENT_REQUIRED for an agent, resumed by
 *    `--complete`.
 */
import * as oidc from 'openid-client';
import { discoverIssuer as discoverOrchestrator } from '../../auth/issuer.js';
import { oauthError } from '../../auth/errors.js';
import { getSession } from '../../auth/session.js';
import { readPending, type PendingSignIn } from '../../auth/store.js';
import { AgentprovError } from '../../core/errors.js';
import {
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  JwtBearerTokenResponseSchema,
  TermsAcceptanceRequiredSchema,
  TOKEN_TYPE_ID_JAG,
  TOKEN_TYPE_ID_TOKEN,
} from '../../wire/provider-auth.js';
import type { Authorization, AuthorizeOptions } from '../provider.js';
import { consentNeeded, consentRequired, pollConsent, startConsent, waitConsent } from './consent.js';
import type { ClientContext } from './context.js';
import { readDiscoveryCache } from './discovery-cache.js';
import { configFor } from './discovery.js';
import { clean, invalidResponse, providerOAuthError, tokenErrorBody } from './errors.js';
import { consentEntry, readGrant } from './grant.js';
import { saveGrant } from './tokens.js';

export async function authorize(c: ClientContext, opts: AuthorizeOptions): Promise<Authorization> {
  const vault = await c.deps.vault();
  const grant = await readGrant(vault, c.id);
  if (grant) return { accountId: grant.account_id, accountCreated: false, via: 'stored_grant' };

  const server = await c.authServer.metadata();
  const pending = await readPending(vault, consentEntry(c.id));
  const usable = pending && pending.issuer === server.issuer && pending.expires_at > c.now() ? pending : undefined;
  if (opts.preflight) return preflight(c, server, usable, opts.acceptTerms);
  if (opts.completeWaitSeconds !== undefined && pending) {
    return pollConsent(c, configFor(server, pending.client_id), pending, opts.completeWaitSeconds);
  }

  const { clientId, source } = await c.authServer.clientIdentity(server);
  if (source === 'descriptor') {
    const authorization = await attested(c, server, clientId, opts.acceptTerms);
    if (authorization) return authorization;
  }
  // Consent: an agent re-running `add` is shown the consent already under way, not a new code.
  if (usable && !opts.interactive) throw consentRequired(c.id, usable, false);
  if (usable) return waitConsent(c, configFor(server, usable.client_id), usable);
  return startConsent(c, configFor(server, clientId), opts.interactive);
}

/**
 * `add --preflight`: find out what authorization would need, changing
 * nothing — no client registration, no device code, no account, no stored
 * grant. The attested path is asked without terms, so it can only answer
 * "terms needed", "consent needed", or with tokens for an existing account
 * (which are revoked at once, not kept).
 */
async function preflight(c: ClientContext, server: oidc.ServerMetadata, usable: PendingSignIn | undefined, acceptTerms: boolean): Promise<Authorization> {
  if (usable) throw consentRequired(c.id, usable, true);
  const cached = readDiscoveryCache(c.deps.paths.cache, c.ref);
  const known = cached?.client_id && cached.issuer === server.issuer ? { clientId: cached.client_id, source: cached.client_source } : undefined;
  const descriptorClient = server.registration_endpoint ? undefined : c.ref.descriptor.client_id;
  const clientId = known?.source === 'descriptor' ? known.clientId : known ? undefined : descriptorClient;
  if (!clientId) throw consentNeeded(c.id);
  try {
    const found = await attested(c, server, clientId, false, { keep: false });
    if (found) return found;
  } catch (err) {
    if (acceptTerms && err instanceof AgentprovError && err.code === 'TERMS_ACCEPTANCE_REQUIRED') {
      return { accountId: '', accountCreated: true, via: 'attested' };
    }
    throw err;
  }
  throw consentNeeded(c.id);
}

/** ID-JAG (RFC 8693 at the orchestrator) → JWT bearer (RFC 7523) at the provider; undefined = consent is needed. */
async function attested(c: ClientContext, server: oidc.ServerMetadata, clientId: string, acceptTerms: boolean, opts = { keep: true }): Promise<Authorization | undefined> {
  const session = await getSession(c.deps);
  const idp = await discoverOrchestrator(session.claims.issuer, session.claims.clientId);
  let jag;
  try {
    jag = await oidc.genericGrantRequest(idp, GRANT_TOKEN_EXCHANGE, {
      subject_token: session.idToken,
      subject_token_type: TOKEN_TYPE_ID_TOKEN,
      requested_token_type: TOKEN_TYPE_ID_JAG,
      audience: server.issuer,
      // RFC 8707: the assertion is for this provider's resource and no other (docs/protocol-auth.md §3.5).
      resource: c.ref.descriptor.resource,
    });
  } catch (err) {
    throw oauthError(err, 'token', session.claims.issuer);
  }
  if (jag.issued_token_type !== TOKEN_TYPE_ID_JAG) {
    throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the identity provider answered the ID-JAG exchange with another token type', {
      details: { issuer: session.claims.issuer, step: 'token' },
    });
  }
  c.deps.io.redactor.add(jag.access_token);

  const termsVersion = c.ref.descriptor.terms_version;
  let tokens;
  try {
    tokens = await oidc.genericGrantRequest(configFor(server, clientId), GRANT_JWT_BEARER, {
      assertion: jag.access_token,
      resource: c.ref.descriptor.resource,
      ...(acceptTerms ? { terms_version: termsVersion } : {}),
    });
  } catch (err) {
    const body = tokenErrorBody(err);
    if (body?.error === 'terms_acceptance_required') throw termsRequired(c, body.body);
    if (body?.error === 'consent_required' || body?.error === 'interaction_required') {
      c.deps.debug(`${c.id} answered ${body.error}: device-flow consent`);
      return undefined;
    }
    throw providerOAuthError(err, c.id, 'authorization');
  }
  const parsed = JwtBearerTokenResponseSchema.safeParse(tokens);
  if (!parsed.success) throw invalidResponse(c.id, 'authorization', `token response: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
  const r = parsed.data;
  if (!opts.keep) {
    // Preflight: the account exists; give back the grant this call made.
    c.deps.io.redactor.add(r.refresh_token);
    await oidc.tokenRevocation(configFor(server, clientId), r.refresh_token, { token_type_hint: 'refresh_token' }).catch(() => undefined);
    return { accountId: r.account_id, accountCreated: false, via: 'attested' };
  }
  const accepted = acceptTerms && r.account_created;
  await saveGrant(c, server.issuer, clientId, r, accepted ? termsVersion : undefined);
  return { accountId: r.account_id, accountCreated: r.account_created, via: 'attested', ...(accepted ? { termsVersion } : {}) };
}

function termsRequired(c: ClientContext, body: Record<string, unknown>): AgentprovError {
  const parsed = TermsAcceptanceRequiredSchema.safeParse(body);
  const termsUrl = clean(parsed.success ? parsed.data.terms_url : c.ref.descriptor.terms_url, 2048);
  const termsVersion = clean(parsed.success ? parsed.data.terms_version : c.ref.descriptor.terms_version, 64);
  return new AgentprovError(
    'TERMS_ACCEPTANCE_REQUIRED',
    `${c.id} creates an account for you only after you accept its terms of service (version ${termsVersion}): ${termsUrl}`,
    {
      details: { provider: c.id, terms_url: termsUrl, terms_version: termsVersion },
      nextSteps: [`agentprov add ${c.id}/<service> --accept-tos`],
    },
  );
}
