/**
 * Cloudflare as a `Provider` (src/providers/provider.ts) on its public REST
 * API, through the official SDK, with the parent API token a human linked
 * (link.ts). Cloudflare bills the account's own payment method
 * (`billing = 'external'`): `quote` says the price before anything is sent,
 * agentprov's ledger holds the cap.
 *
 * - authorize / preflight: the link exists, belongs to the signed-in
 *   agentprov user, and its token still verifies as active. Nothing is
 *   written; there is no consent or account creation at Cloudflare.
 * - provision: always looks up an earlier attempt first and adopts it
 *   (resources.ts, registrar.ts); Cloudflare has no idempotency keys.
 * - childCredential / mint: a new API token from the parent, narrowed to the
 *   linked account and the permission groups of the asked scopes, with
 *   `expires_on` ≤ now + TTL; revoke deletes it.
 * - rotate: rolls the parent token's value and stores the new one.
 *
 * The parent token and every child token are added to the output redactor
 * the moment they are read or created; no error carries either.
 */
import { getSession } from '../../auth/session.js';
import type { Deps } from '../../core/deps.js';
import { AgentprovError } from '../../core/errors.js';
import { MAX_TTL_SECONDS, MIN_TTL_SECONDS } from '../../util/duration.js';
import type { Provision, Service } from '../../wire/provider.js';
import type { Authorization, AuthorizeOptions, DeepLink, ExternalQuote, HeldGrant, Provider, ProvisionInput, ShortLivedCredential } from '../provider.js';
import { heldGrant } from './revoke.js';
import { CLOUDFLARE_PROVIDER_ID, CLOUDFLARE_SERVICES } from '../../catalog/builtin/cloudflare.js';
import { cloudflareClient } from './client.js';
import { dashboardUrl } from './dashboard.js';
import { linkInvalid, RELINK } from './errors.js';
import { LINK_ENTRY, notLinked, type Link } from './link.js';
import { grantCreatesTokens, oauthAccessToken, type OAuthLink } from './oauth-grant.js';
import { readAnyLink } from './oauth-link.js';
import { bucketName, groupsFor } from './provider-scopes.js';
import { currentState, registerDomain } from './registrar.js';
import { domainConfig, priceDomain, SERVICE as DOMAIN_SERVICE } from './registrar-quote.js';
import { ensureD1, ensureKv, ensureR2, ensureWorker, getD1, getKv, getR2, getWorker, parseId, removeD1, removeKv, removeR2, removeWorker, SERVICE_KIND, type Draft } from './resources.js';
import { createToken, deleteToken, rollToken, unusable, verifyToken, type TokenApi } from './tokens.js';

interface Linked {
  link: Link | OAuthLink;
  api: TokenApi;
}

export { groupsFor };

export class CloudflareProvider implements Provider {
  readonly id = CLOUDFLARE_PROVIDER_ID;
  readonly billing = 'external' as const;
  readonly #deps: Deps;
  #linked: Promise<Linked> | undefined;
  /** Quotes given in this process, by domain and years: a higher price at registration time is refused. */
  readonly #quotes = new Map<string, ExternalQuote>();

  constructor(deps: Deps) {
    this.#deps = deps;
  }

  async services(): Promise<Service[]> {
    return CLOUDFLARE_SERVICES.map(({ provider: _provider, ...s }) => s as Service);
  }

  // ---- the link ---------------------------------------------------------------------

  /** The link of the signed-in user, its token verified once per process. */
  #link(): Promise<Linked> {
    this.#linked ??= (async () => {
      const deps = this.#deps;
      const session = await getSession(deps);
      const link = await readAnyLink(await deps.vault());
      if (!link) throw notLinked('');
      if (link.subject !== session.claims.subject || (link.issuer && link.issuer !== session.claims.issuer)) {
        throw notLinked('the stored link was made by another agentprov user');
      }
      if ('kind' in link) {
        // An OAuth grant: a fresh access token (refreshed under the lock) is the client's bearer token.
        const current = await oauthAccessToken(deps, link);
        return { link: current, api: { ...cloudflareClient(current.api_url, current.access_token, deps.io.redactor), owner: 'user' as const, accountId: current.account_id } };
      }
      const api: TokenApi = { ...cloudflareClient(link.api_url, link.parent_token, deps.io.redactor), owner: link.owner, accountId: link.account_id };
      const verified = await verifyToken(api, link.owner, link.account_id);
      const why = unusable(verified, deps.clock.now());
      if (why) throw linkInvalid(why, { account_id: link.account_id, token_id: link.token_id });
      if (verified.id !== link.token_id) throw linkInvalid('is not the token that was linked', { account_id: link.account_id });
      return { link, api };
    })();
    this.#linked.catch(() => (this.#linked = undefined));
    return this.#linked;
  }

  async authorize(_opts: AuthorizeOptions): Promise<Authorization> {
    // Preflight or not: the same checks, and nothing is ever written here.
    const { link } = await this.#link();
    return { accountId: link.account_id, accountCreated: false, via: 'stored_grant' };
  }

  // ---- money ----------------------------------------------------------------------------

  async quote(input: { service: string; name: string; config: Record<string, unknown> }): Promise<ExternalQuote | undefined> {
    if (input.service !== DOMAIN_SERVICE) return undefined;
    const cfg = domainConfig(input.config);
    const { api } = await this.#link();
    // Registered (or being registered) by this account already: nothing new to pay; provision finds it.
    if (await currentState(api, cfg.domain, this.#deps.clock.now())) return undefined;
    const price = await priceDomain(api, cfg);
    this.#quotes.set(`${cfg.domain} ${cfg.years}`, price);
    return price;
  }

  // ---- provisioning ------------------------------------------------------------------------

  async provision(input: ProvisionInput): Promise<Provision> {
    const kind = SERVICE_KIND[input.service];
    if (!kind) {
      throw new AgentprovError('SERVICE_NOT_FOUND', `cloudflare has no service ${input.service}`, { details: { provider: this.id, service: input.service }, nextSteps: [`agentprov catalog ${this.id}`] });
    }
    const { api } = await this.#link();
    const now = this.#deps.clock.now();
    const c = input.config;
    const str = (k: string): string | undefined => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
    let draft: Draft;
    switch (kind) {
      case 'domain': {
        const cfg = domainConfig(c);
        draft = (await registerDomain(api, cfg, now, this.#quotes.get(`${cfg.domain} ${cfg.years}`))).provision;
        break;
      }
      case 'kv':
        draft = await ensureKv(api, str('title') ?? input.name, now);
        break;
      case 'r2':
        draft = await ensureR2(api, str('bucket_name') ?? bucketName(input.name), str('location_hint'), now);
        break;
      case 'd1':
        draft = await ensureD1(api, str('database_name') ?? input.name, str('primary_location_hint'), now);
        break;
      case 'worker':
        draft = await ensureWorker(api, str('script_name') ?? input.name, now);
        break;
    }
    return this.#named(draft, input.name);
  }

  async get(provisionId: string, name: string): Promise<Provision> {
    const { kind, ref } = parseId(provisionId);
    const { api } = await this.#link();
    const now = this.#deps.clock.now();
    let draft: Draft;
    switch (kind) {
      case 'domain': {
        const state = await currentState(api, ref, now, { includeFailed: true });
        if (!state) {
          throw new AgentprovError('RESOURCE_NOT_FOUND', `the Cloudflare account has no registration of ${ref} (nor one under way)`, { details: { provider: this.id, id: provisionId } });
        }
        draft = state;
        break;
      }
      case 'kv':
        draft = await getKv(api, ref, now);
        break;
      case 'r2':
        draft = await getR2(api, ref, now);
        break;
      case 'd1':
        draft = await getD1(api, ref, now);
        break;
      case 'worker':
        draft = await getWorker(api, ref, now);
        break;
    }
    return this.#named(draft, name);
  }

  async remove(provisionId: string): Promise<void> {
    const { kind, ref } = parseId(provisionId);
    const { api, link } = await this.#link();
    switch (kind) {
      case 'domain': {
        const url = `https://dash.cloudflare.com/${link.account_id}/domains/registrations`;
        throw new AgentprovError('UNSUPPORTED_OPERATION', `Cloudflare cannot unregister ${ref}: a registered domain stays registered until it expires. To stop paying for it, a human turns auto-renew off at ${url}`, {
          details: { provider: this.id, id: provisionId, url },
          nextSteps: [url, `agentprov remove <name> --only-credentials (forget it locally)`],
        });
      }
      case 'kv':
        return removeKv(api, ref);
      case 'r2':
        return removeR2(api, ref);
      case 'd1':
        return removeD1(api, ref);
      case 'worker':
        return removeWorker(api, ref);
    }
  }

  // ---- credentials -------------------------------------------------------------------------

  /** A child API token: the linked account only, the scopes' permission groups only, expiring within the TTL. */
  async childCredential(opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential> {
    const ttl = opts.ttlSeconds;
    if (!Number.isInteger(ttl) || ttl < MIN_TTL_SECONDS || ttl > MAX_TTL_SECONDS) {
      throw new AgentprovError('USAGE', `a Cloudflare child token lives ${MIN_TTL_SECONDS}-${MAX_TTL_SECONDS} seconds, not ${ttl}`);
    }
    const { groups, lenient } = groupsFor(opts.scopes);
    await getSession(this.#deps); // the human is still signed in (NOT_SIGNED_IN otherwise)
    const { api, link } = await this.#link();
    const now = this.#deps.clock.now();
    if ('kind' in link && !grantCreatesTokens(link)) return this.#accessTokenCredential(link);
    const created = await createToken(api, {
      name: `agentprov ${process.pid} ${now.toISOString()}`,
      groups,
      expiresAt: new Date(now.getTime() + ttl * 1000),
      lenient,
      ...('kind' in link ? {} : { heldBy: link.token_id }),
    });
    this.#deps.io.redactor.add(created.value);
    return { token: created.value, expiresAt: created.expiresAt, id: created.id, shortLived: true };
  }

  /**
   * A grant that may not create API tokens: the OAuth access token itself
   * (short-lived, Cloudflare's own lifetime), never the refresh token. It has
   * no id, and `revoke` leaves it to expire: RFC 7009 §2.1 lets Cloudflare end
   * the whole grant when one of its access tokens is revoked.
   */
  async #accessTokenCredential(seen: OAuthLink): Promise<ShortLivedCredential> {
    const link = await oauthAccessToken(this.#deps, seen, { minSeconds: 120 });
    this.#deps.io.redactor.add(link.access_token);
    return { token: link.access_token, expiresAt: new Date(link.access_token_expires_at * 1000), shortLived: true };
  }

  mint(opts: { ttlSeconds: number; scopes?: string[] }): Promise<ShortLivedCredential> {
    return this.childCredential(opts);
  }

  async revoke(credential: ShortLivedCredential): Promise<void> {
    if (!credential.id && 'kind' in (await this.#link()).link) return; // the OAuth access token: see #accessTokenCredential
    if (!credential.id) {
      throw new AgentprovError('INTERNAL', 'a Cloudflare child token without its id cannot be deleted', { details: { provider: this.id } });
    }
    const { api } = await this.#link();
    await deleteToken(api, credential.id);
  }

  /** Roll the parent token's value (the old one dies at once) and keep the new one in the link. */
  async rotate(): Promise<void> {
    const { api, link } = await this.#link();
    if ('kind' in link) {
      // A refresh with rotation: the old refresh token is spent at Cloudflare.
      await oauthAccessToken(this.#deps, link, { force: true });
      this.#linked = undefined;
      return;
    }
    const value = await rollToken(api, link.token_id);
    const vault = await this.#deps.vault();
    try {
      await vault.update((entries) => {
        entries[LINK_ENTRY] = { ...link, parent_token: value };
      });
    } catch (err) {
      throw new AgentprovError('CLOUDFLARE_LINK_INVALID', 'Cloudflare rolled the linked token, but agentprov could not store the new value: the link no longer works; a human links the account again', {
        details: { provider: this.id, account_id: link.account_id },
        nextSteps: [RELINK],
        cause: err,
      });
    }
    this.#linked = undefined;
  }

  // open (issue 21)
  /** The resource's dashboard page (no secret: the human signs in to Cloudflare there); the resource is checked to exist first. */
  async deepLink(provisionId: string): Promise<DeepLink> {
    const { kind, ref } = parseId(provisionId);
    await this.get(provisionId, provisionId); // RESOURCE_NOT_FOUND when it is gone
    const { link } = await this.#link();
    return { url: dashboardUrl(link.account_id, kind, ref), secret: false, singleUse: false };
  }

  // ---- the agentprov name of a provision -------------------------------------------------------

  /** Cloudflare does not know agentprov's names (a domain is not even one): every caller passes the one it holds. */
  #named(d: Draft, name: string): Provision {
    return { ...d, name } as Provision;
  }

  // ---- revoke (issue 21) ------------------------------------------------------------

  heldGrant(): Promise<HeldGrant | undefined> {
    return heldGrant(this.#deps);
  }
}
