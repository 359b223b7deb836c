/**
 * The agentprov provider protocol client: one implementation of `Provider`
 * (src/providers/provider.ts) for any provider speaking docs/protocol.md and
 * docs/protocol-auth.md.
 *
 * The class holds what the parts share (the provider, the deps, the clock,
 * the per-provider lock, the provider's authorization server: context.ts,
 * auth-server.ts) and hands it to them: authorization.ts and consent.ts
 * (authorize), tokens.ts (the stored grant's tokens, rotate), mint.ts
 * (short-lived credentials), provisioning.ts and services.ts (the catalog).
 */
import { withStateLock } from '../../auth/store.js';
import type { Deps } from '../../core/deps.js';
import type { Provision, Service } from '../../wire/provider.js';
import type { Authorization, AuthorizeOptions, DeepLink, HeldGrant, Provider, ProvisionInput, ShortLivedCredential, UpdateInput } from '../provider.js';
import { ProviderAuthServer } from './auth-server.js';
import { authorize } from './authorization.js';
import { withFetcher, type ClientBase, type ClientContext } from './context.js';
import type { ProviderRef } from './ref.js';
import { mint, revoke } from './mint.js';
import { createDeepLink, createProvision, deleteProvision, type ProvisioningContext, readProvision, updateProvision } from './provisioning.js';
import { catalogServices } from './services.js';
import { accessToken, rotate } from './tokens.js';
import { heldGrant } from './revoke.js';

export class ProtocolProvider implements Provider {
  readonly id: string;
  readonly #ctx: ClientContext;

  constructor(deps: Deps, ref: ProviderRef) {
    this.id = ref.id;
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

  services(): Promise<Service[]> {
    return catalogServices(this.#ctx);
  }

  // ---- authorization ----------------------------------------------------------

  authorize(opts: AuthorizeOptions): Promise<Authorization> {
    return authorize(this.#ctx, opts);
  }

  // ---- tokens -------------------------------------------------------------------

  accessToken(force = false): Promise<string> {
    return accessToken(this.#ctx, force);
  }

  // ---- provisioning -------------------------------------------------------------

  async #provisioning<T>(fn: (ctx: ProvisioningContext) => Promise<T>): Promise<T> {
    return withFetcher((fetcher) =>
      fn({ provider: this.id, endpoint: this.#ctx.ref.descriptor.provisioning_endpoint, fetcher, accessToken: (force) => this.accessToken(force) }),
    );
  }

  provision(input: ProvisionInput): Promise<Provision> {
    if (input.paymentToken !== undefined) this.#ctx.deps.io.redactor.add(input.paymentToken);
    return this.#provisioning((ctx) => createProvision(ctx, input));
  }

  get(provisionId: string): Promise<Provision> {
    return this.#provisioning((ctx) => readProvision(ctx, provisionId));
  }

  remove(provisionId: string): Promise<void> {
    return this.#provisioning((ctx) => deleteProvision(ctx, provisionId));
  }

  update(input: UpdateInput): Promise<Provision> {
    if (input.paymentToken !== undefined) this.#ctx.deps.io.redactor.add(input.paymentToken);
    return this.#provisioning((ctx) => updateProvision(ctx, input));
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

  // ---- open (issue 21) ---------------------------------------------------------------

  /** §4.5: a single-use sign-in link (a secret) into the provision's console page. */
  async deepLink(provisionId: string): Promise<DeepLink> {
    const redactor = this.#ctx.deps.io.redactor;
    const link = await this.#provisioning((ctx) => createDeepLink(ctx, provisionId, (s) => redactor.add(s)));
    return { url: link.url, expiresAt: new Date(link.expires_at), secret: true, singleUse: true };
  }

  // ---- revoke (issue 21) ------------------------------------------------------------

  heldGrant(): Promise<HeldGrant | undefined> {
    return heldGrant(this.#ctx);
  }
}
