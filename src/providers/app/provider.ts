/**
 * An APP 0.1d provider (docs/protocol.md §APP) as a `Provider`: its catalog
 * (catalog/app-catalog.ts), authorization (auth.ts), and resources: created
 * with `project_id` = the journal's Idempotency-Key (a re-run after a crash
 * gets the same resource), read, credentials rotated, removed. A resource's
 * access_configuration goes to the vault only; `get` hands it to `run` as
 * resource attributes (masked), `provision` returns none of it. There is no
 * short-lived credential: `token` is refused, `run` injects the keys.
 */
import { withStateLock } from '../../auth/store.js';
import { AgentprovError } from '../../core/errors.js';
import type { Deps } from '../../core/deps.js';
import { createFetcher } from '../../http/fetch.js';
import { readCachedCatalog } from '../../catalog/cache.js';
import { appServiceId } from '../../catalog/app-catalog.js';
import type * as z from 'zod';
import { AppDeepLink, AppResource } from '../../wire/app.js';
import type { Provision, Service } from '../../wire/provider.js';
import type { Authorization, AuthorizeOptions, CredentialMember, DeepLink, ExternalQuote, HeldGrant, Provider, ProvisionInput, ShortLivedCredential, UpdateInput } from '../provider.js';
import { accessToken, authorize, checkClientId } from './auth.js';
import type { AppClient, AppContext } from './context.js';
import { DEADLINE_MS, appRequest } from './http.js';
import { AppCredentials, readEntry, resourceEntry } from './store.js';
import './errors.js';
import { heldGrant } from './revoke.js';

export interface AppProviderRef {
  id: string;
  base: string;
  clientId?: string;
}

export class AppProvider implements Provider {
  readonly id: string;
  /** The provider charges (or refuses) paid plans itself; agentprov never pays an APP provider (quote refuses a paid one). */
  readonly billing = 'external' as const;
  /** A resource's keys are its access_configuration, valid until rotated or removed. */
  readonly credentialLifetime = 'long-lived' as const;
  readonly #c: AppContext;

  constructor(deps: Deps, ref: AppProviderRef, orchestratorClient: () => Promise<AppClient | undefined>) {
    this.id = ref.id;
    this.#c = {
      id: ref.id,
      base: ref.base,
      deps,
      now: () => Math.floor(deps.clock.now().getTime() / 1000),
      locked: (fn) => withStateLock(deps.paths.state, `provider-${ref.id}`, fn),
      fetch: async (fn) => {
        const f = createFetcher({ headersTimeoutMs: DEADLINE_MS, bodyTimeoutMs: DEADLINE_MS });
        try {
          return await fn(f);
        } finally {
          await f.close().catch(() => undefined);
        }
      },
      clientId: async () => {
        if (ref.clientId) return { clientId: checkClientId(ref.id, ref.clientId, 'client_id') };
        const o = await orchestratorClient();
        if (o) return { ...o, clientId: checkClientId(ref.id, o.clientId, 'app_client_id') };
        throw new AgentprovError('APP_CLIENT_ID_REQUIRED', `${ref.id} speaks APP, which needs a Client ID Metadata Document for agentprov; neither --client-id nor the orchestrator names one`, {
          details: { provider: ref.id },
          nextSteps: [`agentprov providers add ${ref.base} --protocol app --id ${ref.id} --client-id https://<your-host>/agentprov-client.json`, 'see the README, "APP providers"'],
        });
      },
    };
  }

  async services(): Promise<Service[]> {
    return (readCachedCatalog(this.#c.deps.paths.cache, this.#c.base)?.services ?? []) as unknown as Service[];
  }

  authorize(opts: AuthorizeOptions): Promise<Authorization> {
    return authorize(this.#c, opts);
  }

  /** APP prices are free text: a paid plan is never bought from here. */
  async quote(input: { service: string }): Promise<ExternalQuote | undefined> {
    const s = this.#service(input.service);
    if (s?.pricing.type === 'free') return undefined;
    throw new AgentprovError('PAYMENT_METHOD_REQUIRED', `${this.id}/${input.service} is a paid plan (${String(s?.pricing.freeform ?? 'price not given')}); APP providers are paid with a Stripe payment token agentprov does not hold: set billing up at ${this.id} yourself`, {
      details: { provider: this.id, service: input.service, price_text: String(s?.pricing.freeform ?? '') },
      nextSteps: [`agentprov catalog ${this.id}`],
    });
  }

  #service(id: string): (Service & { app_service_id?: string }) | undefined {
    return readCachedCatalog(this.#c.deps.paths.cache, this.#c.base)?.services.find((s) => s.id === id) as unknown as (Service & { app_service_id?: string }) | undefined;
  }

  async #call<T = AppResource>(step: string, method: 'GET' | 'POST', path: string, json?: unknown, schema: z.ZodType<T> = AppResource as unknown as z.ZodType<T>): Promise<T> {
    const go = async (force: boolean) => {
      const bearer = await accessToken(this.#c, force);
      return this.#c.fetch((f) => appRequest(f, { provider: this.id, base: this.#c.base, step, method, path, ...(json !== undefined ? { json } : {}), bearer, schema }));
    };
    try {
      return (await go(false)).body;
    } catch (err) {
      // The access token may have died (a rotation elsewhere): one forced refresh, then give up.
      if (err instanceof AgentprovError && err.code === 'PROVIDER_NOT_AUTHORIZED' && err.details.step === step) return (await go(true)).body;
      throw err;
    }
  }

  async #keep(r: AppResource): Promise<Record<string, string>> {
    if (r.status !== 'complete') return {};
    const creds = r.complete.access_configuration;
    for (const v of Object.values(creds)) this.#c.deps.io.redactor.add(v);
    await (await this.#c.deps.vault()).set(resourceEntry(this.id, r.id), { v: 1, service_id: r.service_id, access_configuration: creds });
    return creds;
  }

  #provision(r: AppResource, service: string, name: string, extra: Record<string, string> = {}): Provision {
    const status = r.status === 'complete' ? 'active' : r.status === 'removed' ? 'deleted' : 'pending';
    return { id: r.id, service, name, status, created_at: new Date(this.#c.now() * 1000).toISOString(), resource: { credentials: 'vault', ...extra } } as Provision;
  }

  async provision(input: ProvisionInput): Promise<Provision> {
    await this.quote({ service: input.service });
    const appId = this.#service(input.service)?.app_service_id ?? input.service.replace(/^app:/, '');
    const r = await this.#call('resources', 'POST', 'provisioning/resources', { service_id: appId, project_id: input.idempotencyKey, configuration: input.config, label_prefix: input.name });
    await this.#keep(r);
    return this.#provision(r, input.service, input.name);
  }

  async get(provisionId: string, name: string): Promise<Provision> {
    const r = await this.#call('resource', 'GET', `provisioning/resources/${encodeURIComponent(provisionId)}`);
    const creds = await this.#keep(r);
    const stored = await readEntry(await this.#c.deps.vault(), resourceEntry(this.id, provisionId), AppCredentials);
    const appId = stored?.service_id ?? (r.status === 'complete' ? r.service_id : 'unknown');
    return this.#provision(r, appServiceId(appId), name, creds);
  }

  /** APP `update_service`: the resource moves to another plan (a paid one is refused before anything is sent, as `add` does); APP has no config update. */
  async update(input: UpdateInput): Promise<Provision> {
    if (Object.keys(input.config).length > 0) {
      throw new AgentprovError('UNSUPPORTED_OPERATION', `${this.id} speaks APP, whose update_service changes only the plan, not a configuration`, { details: { provider: this.id, service: input.service } });
    }
    await this.quote({ service: input.service });
    const appId = this.#service(input.service)?.app_service_id ?? input.service.replace(/^app:/, '');
    const r = await this.#call('update_service', 'POST', `provisioning/resources/${encodeURIComponent(input.provisionId)}/update_service`, { service_id: appId });
    await this.#keep(r);
    return this.#provision(r, input.service, input.name);
  }

  async remove(provisionId: string): Promise<void> {
    try {
      await this.#call('remove', 'POST', `provisioning/resources/${encodeURIComponent(provisionId)}/remove`, {});
    } catch (err) {
      if (!(err instanceof AgentprovError && err.code === 'RESOURCE_NOT_FOUND')) throw err;
    }
    await (await this.#c.deps.vault()).delete(resourceEntry(this.id, provisionId));
  }

  /** New credentials for one resource (or every resource agentprov holds here); the old key stops working. */
  async rotate(provisionId?: string): Promise<void> {
    const vault = await this.#c.deps.vault();
    const prefix = resourceEntry(this.id, '');
    const ids = provisionId ? [provisionId] : (await vault.names()).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length));
    if (ids.length === 0) throw new AgentprovError('RESOURCE_NOT_FOUND', `agentprov holds no credentials at ${this.id} to rotate`, { details: { provider: this.id } });
    for (const id of ids) await this.#keep(await this.#call('rotate_credentials', 'POST', `provisioning/resources/${encodeURIComponent(id)}/rotate_credentials`, {}));
  }

  /** Every access_configuration member the vault holds for the resource, as `<PROVIDER_ID>_<KEY>` (upper snake). */
  async credentialEnv(provisionId: string): Promise<CredentialMember[]> {
    const stored = await readEntry(await this.#c.deps.vault(), resourceEntry(this.id, provisionId), AppCredentials);
    const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '').toUpperCase();
    return Object.entries(stored?.access_configuration ?? {})
      .filter(([member]) => snake(member) !== '')
      .map(([member, value]) => ({ member, name: `${snake(this.id)}_${snake(member)}`, value }));
  }

  async mint(): Promise<ShortLivedCredential> {
    throw new AgentprovError('SHORT_LIVED_UNSUPPORTED', `${this.id} speaks APP, which hands out only long-lived keys: agentprov never prints them; use \`agentprov run --resource <name> -- <command>\`, which injects them into one command`, {
      details: { provider: this.id, credential_lifetime: 'long-lived' },
      nextSteps: ['agentprov run --resource <name> -- <command>'],
    });
  }

  async revoke(): Promise<void> {
    // Nothing minted, nothing to give back: the keys are the resource's own.
  }

  // open (issue 21)
  /** `POST provisioning/deep_links` for the resource's page (`path` = `/resources/<id>`): single use, a secret until used. */
  async deepLink(provisionId: string): Promise<DeepLink> {
    const path = `/resources/${encodeURIComponent(provisionId)}`;
    const link = await this.#call('deep_links', 'POST', 'provisioning/deep_links', { purpose: 'dashboard', path }, AppDeepLink);
    this.#c.deps.io.redactor.add(link.url);
    return { url: link.url, expiresAt: new Date(link.expires_at), secret: true, singleUse: true };
  }

  // ---- revoke (issue 21) ------------------------------------------------------------

  async heldGrant(): Promise<HeldGrant | undefined> {
    return heldGrant(await this.#c.deps.vault(), this.id);
  }
}
