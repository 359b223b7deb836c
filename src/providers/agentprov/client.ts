/**
 * The agentprov provider protocol client: one implementation of `Provider`
 * (src/providers/provider.ts) for any provider speaking docs/protocol.md and
 * docs/protocol-auth.md.
 *
 * Authorization (docs/protocol-auth.md §§1-4), in this order:
 * 1. a stored grant in the vault → done;
 * 2. with the client id the descriptor publishes (a pre-registered public
 *    client): the attested path — RFC 8693 token exchange of the user's ID
 *    token at the orchestrator for an ID-JAG (audience = the provider's AS),
 *    presented with the RFC 7523 JWT bearer grant, with `terms_version` when
 *    the human accepted the terms;
 * 3. when the AS asks for consent or interaction (or agentprov registered
 *    itself with RFC 7591, whose client an ID-JAG can never name): the RFC
 *    8628 device flow at the provider's AS — waited for on a TTY, stored and
 *    exited with CONSENT_REQUIRED for an agent, resumed by `--complete`.
 *
 * Tokens at a provider rotate: every refresh happens under a per-provider
 * lock with a re-read first (the session's pattern, src/auth/session.ts).
 */
import * as oidc from 'openid-client';
import { discoverIssuer as discoverOrchestrator } from '../../auth/issuer.js';
import { deviceCodeExpired, pollDeviceAuthorization, startDeviceAuthorization } from '../../auth/device.js';
import { oauthError } from '../../auth/errors.js';
import { getSession } from '../../auth/session.js';
import { pendingEntry, readPending, withStateLock, type PendingSignIn } from '../../auth/store.js';
import { MAX_CATALOG_BYTES } from '../../catalog/aggregate.js';
import { readCacheEntry } from '../../catalog/cache.js';
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import {
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  JwtBearerTokenResponseSchema,
  ProviderTokenResponseSchema,
  TermsAcceptanceRequiredSchema,
  TOKEN_TYPE_ID_JAG,
  TOKEN_TYPE_ID_TOKEN,
} from '../../wire/provider-auth.js';
import type { Provision, Service } from '../../wire/provider.js';
import type { Authorization, AuthorizeOptions, Provider, ProvisionInput, ShortLivedCredential } from '../provider.js';
import { ProviderAuthServer } from './auth-server.js';
import { withFetcher, type ClientBase, type ClientContext } from './context.js';
import { configFor, DEADLINE_MS, readDiscoveryCache, type ProviderRef } from './discovery.js';
import { clean, invalidResponse, providerOAuthError, tokenErrorBody } from './errors.js';
import { consentEntry, readGrant } from './grant.js';
import { mint, revoke } from './mint.js';
import { createProvision, deleteProvision, readProvision, type ProvisioningContext } from './provisioning.js';
import { accessToken, rotate, saveGrant } from './tokens.js';

export class ProtocolProvider implements Provider {
  readonly id: string;
  readonly #deps: Deps;
  readonly #ref: ProviderRef;
  readonly #ctx: ClientContext;

  constructor(deps: Deps, ref: ProviderRef) {
    this.id = ref.id;
    this.#deps = deps;
    this.#ref = ref;
    const base: ClientBase = {
      id: ref.id,
      deps,
      ref,
      now: () => Math.floor(deps.clock.now().getTime() / 1000),
      locked: (fn) => withStateLock(deps.paths.state, `provider-${ref.id}`, fn),
    };
    this.#ctx = { ...base, authServer: new ProviderAuthServer(base) };
  }

  // ---- catalog -------------------------------------------------------------

  async services(): Promise<Service[]> {
    const cached = readCacheEntry(this.#deps.paths.cache, this.#ref.descriptorUrl);
    const services = cached?.provider_id === this.id ? cached.services : await this.#fetchCatalog();
    return services.map(({ provider: _provider, ...s }) => s as Service);
  }

  async #fetchCatalog() {
    const { parseCatalog } = await import('../../catalog/validate.js');
    const doc = await withFetcher((f) => f.get(this.#ref.descriptor.catalog_url, { signal: AbortSignal.timeout(DEADLINE_MS), maxBytes: MAX_CATALOG_BYTES })).catch(
      (err: unknown) => {
        throw err instanceof AgentprovError ? err : invalidResponse(this.id, 'discovery', `catalog: ${(err as Error).message}`);
      },
    );
    try {
      return parseCatalog(doc.body!, this.id).services;
    } catch (err) {
      throw invalidResponse(this.id, 'discovery', (err as Error).message);
    }
  }

  // ---- authorization ----------------------------------------------------------

  async authorize(opts: AuthorizeOptions): Promise<Authorization> {
    const vault = await this.#deps.vault();
    const grant = await readGrant(vault, this.id);
    if (grant) return { accountId: grant.account_id, accountCreated: false, via: 'stored_grant' };

    const server = await this.#ctx.authServer.metadata();
    const pending = await readPending(vault, consentEntry(this.id));
    const usable = pending && pending.issuer === server.issuer && pending.expires_at > this.#ctx.now() ? pending : undefined;
    if (opts.preflight) return this.#preflight(server, usable, opts.acceptTerms);
    if (opts.completeWaitSeconds !== undefined && pending) {
      return this.#pollConsent(configFor(server, pending.client_id), pending, opts.completeWaitSeconds);
    }

    const { clientId, source } = await this.#ctx.authServer.clientIdentity(server);
    if (source === 'descriptor') {
      const attested = await this.#attested(server, clientId, opts.acceptTerms);
      if (attested) return attested;
    }
    // Consent: an agent re-running `add` is shown the consent already under way, not a new code.
    if (usable && !opts.interactive) throw consentRequired(this.id, usable, false);
    if (usable) return this.#waitConsent(configFor(server, usable.client_id), usable);
    return this.#startConsent(configFor(server, clientId), opts.interactive);
  }

  /**
   * `add --preflight`: find out what authorization would need, changing
   * nothing — no client registration, no device code, no account, no stored
   * grant. The attested path is asked without terms, so it can only answer
   * "terms needed", "consent needed", or with tokens for an existing account
   * (which are revoked at once, not kept).
   */
  async #preflight(server: oidc.ServerMetadata, usable: PendingSignIn | undefined, acceptTerms: boolean): Promise<Authorization> {
    if (usable) throw consentRequired(this.id, usable, true);
    const cached = readDiscoveryCache(this.#deps.paths.cache, this.#ref);
    const known = cached?.client_id && cached.issuer === server.issuer ? { clientId: cached.client_id, source: cached.client_source } : undefined;
    const descriptorClient = server.registration_endpoint ? undefined : this.#ref.descriptor.client_id;
    const clientId = known?.source === 'descriptor' ? known.clientId : known ? undefined : descriptorClient;
    if (!clientId) throw consentNeeded(this.id);
    try {
      const found = await this.#attested(server, clientId, false, { keep: false });
      if (found) return found;
    } catch (err) {
      if (acceptTerms && err instanceof AgentprovError && err.code === 'TERMS_ACCEPTANCE_REQUIRED') {
        return { accountId: '', accountCreated: true, via: 'attested' };
      }
      throw err;
    }
    throw consentNeeded(this.id);
  }

  /** ID-JAG (RFC 8693 at the orchestrator) → JWT bearer (RFC 7523) at the provider; undefined = consent is needed. */
  async #attested(server: oidc.ServerMetadata, clientId: string, acceptTerms: boolean, opts = { keep: true }): Promise<Authorization | undefined> {
    const session = await getSession(this.#deps);
    const idp = await discoverOrchestrator(session.claims.issuer, session.claims.clientId);
    let jag;
    try {
      jag = await oidc.genericGrantRequest(idp, GRANT_TOKEN_EXCHANGE, {
        subject_token: session.idToken,
        subject_token_type: TOKEN_TYPE_ID_TOKEN,
        requested_token_type: TOKEN_TYPE_ID_JAG,
        audience: server.issuer,
        // RFC 8707: the assertion is for this provider's resource and no other (docs/protocol-auth.md §3.5).
        resource: this.#ref.descriptor.resource,
      });
    } catch (err) {
      throw oauthError(err, 'token', session.claims.issuer);
    }
    if (jag.issued_token_type !== TOKEN_TYPE_ID_JAG) {
      throw new AgentprovError('INVALID_AUTHORIZATION_RESPONSE', 'the identity provider answered the ID-JAG exchange with another token type', {
        details: { issuer: session.claims.issuer, step: 'token' },
      });
    }
    this.#deps.io.redactor.add(jag.access_token);

    const termsVersion = this.#ref.descriptor.terms_version;
    let tokens;
    try {
      tokens = await oidc.genericGrantRequest(configFor(server, clientId), GRANT_JWT_BEARER, {
        assertion: jag.access_token,
        resource: this.#ref.descriptor.resource,
        ...(acceptTerms ? { terms_version: termsVersion } : {}),
      });
    } catch (err) {
      const body = tokenErrorBody(err);
      if (body?.error === 'terms_acceptance_required') throw this.#termsRequired(body.body);
      if (body?.error === 'consent_required' || body?.error === 'interaction_required') {
        this.#deps.debug(`${this.id} answered ${body.error}: device-flow consent`);
        return undefined;
      }
      throw providerOAuthError(err, this.id, 'authorization');
    }
    const parsed = JwtBearerTokenResponseSchema.safeParse(tokens);
    if (!parsed.success) throw invalidResponse(this.id, 'authorization', `token response: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
    const r = parsed.data;
    if (!opts.keep) {
      // Preflight: the account exists; give back the grant this call made.
      this.#deps.io.redactor.add(r.refresh_token);
      await oidc.tokenRevocation(configFor(server, clientId), r.refresh_token, { token_type_hint: 'refresh_token' }).catch(() => undefined);
      return { accountId: r.account_id, accountCreated: false, via: 'attested' };
    }
    const accepted = acceptTerms && r.account_created;
    await saveGrant(this.#ctx, server.issuer, clientId, r, accepted ? termsVersion : undefined);
    return { accountId: r.account_id, accountCreated: r.account_created, via: 'attested', ...(accepted ? { termsVersion } : {}) };
  }

  #termsRequired(body: Record<string, unknown>): AgentprovError {
    const parsed = TermsAcceptanceRequiredSchema.safeParse(body);
    const termsUrl = clean(parsed.success ? parsed.data.terms_url : this.#ref.descriptor.terms_url, 2048);
    const termsVersion = clean(parsed.success ? parsed.data.terms_version : this.#ref.descriptor.terms_version, 64);
    return new AgentprovError(
      'TERMS_ACCEPTANCE_REQUIRED',
      `${this.id} creates an account for you only after you accept its terms of service (version ${termsVersion}): ${termsUrl}`,
      {
        details: { provider: this.id, terms_url: termsUrl, terms_version: termsVersion },
        nextSteps: [`agentprov add ${this.id}/<service> --accept-tos`],
      },
    );
  }

  /** RFC 8628 at the provider's AS, for the resource scopes its catalog names. */
  async #startConsent(config: oidc.Configuration, interactive: boolean): Promise<Authorization> {
    const scope = await this.#consentScope();
    let pending: PendingSignIn;
    try {
      pending = await startDeviceAuthorization(config, this.#ctx.now(), scope, { resource: this.#ref.descriptor.resource });
    } catch (err) {
      throw this.#deviceError(err);
    }
    this.#deps.io.redactor.add(pending.device_code);
    if (!interactive) {
      await (await this.#deps.vault()).set(consentEntry(this.id), pendingEntry(pending));
      throw consentRequired(this.id, pending, false);
    }
    return this.#waitConsent(config, pending);
  }

  async #consentScope(): Promise<string> {
    const scopes = new Set(['provision']);
    for (const s of await this.services()) for (const sc of s.scopes) scopes.add(sc);
    return [...scopes].sort().join(' ');
  }

  /** On a TTY: show the code, open the browser, wait until it expires. */
  async #waitConsent(config: oidc.Configuration, pending: PendingSignIn): Promise<Authorization> {
    const io = this.#deps.io;
    io.err(`To let agentprov use ${this.id} for you, open ${pending.verification_uri} and enter the code ${pending.user_code}\n`);
    if (await this.#deps.browser.open(pending.verification_uri_complete ?? pending.verification_uri)) io.err('Opened your browser.\n');
    return this.#pollConsent(config, pending, pending.expires_at - this.#ctx.now());
  }

  async #pollConsent(config: oidc.Configuration, pending: PendingSignIn, waitSeconds: number): Promise<Authorization> {
    const vault = await this.#deps.vault();
    let outcome;
    try {
      if (pending.expires_at <= this.#ctx.now()) throw deviceCodeExpired(pending.issuer);
      outcome = await pollDeviceAuthorization(config, pending, this.#ctx.now(), Math.max(0, waitSeconds));
    } catch (err) {
      const mapped = this.#deviceError(err);
      if (mapped.code === 'AUTHORIZATION_DENIED' || mapped.code === 'AUTHORIZATION_EXPIRED') await vault.delete(consentEntry(this.id));
      throw mapped;
    }
    if (outcome.kind === 'pending') throw consentRequired(this.id, pending, true);
    const parsed = ProviderTokenResponseSchema.safeParse(outcome.tokens);
    if (!parsed.success || !parsed.data.refresh_token || !parsed.data.account_id) {
      throw invalidResponse(this.id, 'consent', 'the device flow token response lacks a refresh token or account_id');
    }
    await saveGrant(this.#ctx, pending.issuer, pending.client_id, parsed.data, undefined);
    return { accountId: parsed.data.account_id, accountCreated: false, via: 'consent' };
  }

  /** device.ts speaks of the identity provider; here the counterpart is the provider. */
  #deviceError(err: unknown): AgentprovError {
    const code = (err as { code?: string }).code;
    const again = [`agentprov add ${this.id}/<service>`];
    if (code === 'AUTHORIZATION_DENIED') {
      return new AgentprovError('AUTHORIZATION_DENIED', `the consent was denied at ${this.id}; nothing was stored`, { details: { provider: this.id }, nextSteps: again, cause: err });
    }
    if (code === 'AUTHORIZATION_EXPIRED') {
      return new AgentprovError('AUTHORIZATION_EXPIRED', `the consent code for ${this.id} expired before it was approved; nothing was stored`, {
        details: { provider: this.id },
        nextSteps: again,
        cause: err,
      });
    }
    if (err instanceof AgentprovError && (code === 'UNTRUSTED_VERIFICATION_URI' || code === 'INVALID_AUTHORIZATION_RESPONSE')) {
      return new AgentprovError(err.code, `provider ${this.id}: ${err.message}`, { details: { ...err.details, provider: this.id }, cause: err });
    }
    return providerOAuthError(err instanceof AgentprovError && err.cause !== undefined ? err.cause : err, this.id, 'consent');
  }

  // ---- tokens -------------------------------------------------------------------

  accessToken(force = false): Promise<string> {
    return accessToken(this.#ctx, force);
  }

  // ---- provisioning -------------------------------------------------------------

  async #provisioning<T>(fn: (ctx: ProvisioningContext) => Promise<T>): Promise<T> {
    return withFetcher((fetcher) =>
      fn({ provider: this.id, endpoint: this.#ref.descriptor.provisioning_endpoint, fetcher, accessToken: (force) => this.accessToken(force) }),
    );
  }

  provision(input: ProvisionInput): Promise<Provision> {
    if (input.paymentToken !== undefined) this.#deps.io.redactor.add(input.paymentToken);
    return this.#provisioning((ctx) => createProvision(ctx, input));
  }

  get(provisionId: string): Promise<Provision> {
    return this.#provisioning((ctx) => readProvision(ctx, provisionId));
  }

  remove(provisionId: string): Promise<void> {
    return this.#provisioning((ctx) => deleteProvision(ctx, provisionId));
  }

  // ---- credentials ----------------------------------------------------------------

  rotate(): Promise<void> {
    return rotate(this.#ctx);
  }

  mint(opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential> {
    return mint(this.#ctx, opts);
  }

  revoke(credential: ShortLivedCredential): Promise<void> {
    return revoke(this.#ctx, credential);
  }
}

/** Preflight: consent will be needed, and no device code was started to say so. */
function consentNeeded(provider: string): AgentprovError {
  return new AgentprovError('CONSENT_REQUIRED', `${provider} will ask for your consent in the browser (device code) before agentprov can provision there`, {
    details: { provider },
    nextSteps: [`agentprov add ${provider}/<service>`],
  });
}

/** CONSENT_REQUIRED (a new consent) or AUTHORIZATION_PENDING (`--complete` found it still waiting): exit 3 either way. */
function consentRequired(provider: string, p: PendingSignIn, stillPending: boolean): AgentprovError {
  const details = {
    provider,
    verification_uri: p.verification_uri,
    verification_uri_complete: p.verification_uri_complete ?? null,
    user_code: p.user_code,
    expires_at: new Date(p.expires_at * 1000).toISOString(),
    interval: p.interval,
  };
  const nextSteps = [`agentprov add ${provider}/<service> --complete`];
  return stillPending
    ? new AgentprovError('AUTHORIZATION_PENDING', `the consent at ${provider} is not approved yet: open ${p.verification_uri} and enter the code ${p.user_code}`, { details, nextSteps })
    : new AgentprovError('CONSENT_REQUIRED', `${provider} needs your consent: open ${p.verification_uri} and enter the code ${p.user_code}`, { details, nextSteps });
}
