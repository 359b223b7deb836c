/**
 * Provisioning: create (idempotent, charged at most once), read, list and
 * delete an account's provisions. Every state change goes through the
 * JsonState store; the rail is called between two persisted steps so that a
 * crash or a retry never redeems a payment token twice for one provision.
 */
import { randomBytes } from 'node:crypto';
import type { Provision, ProvisionRequest } from '../../wire/provider.js';
import type { JsonState } from '../shared/json-state.js';
import type { ConfigValidator } from './config-validator.js';
import { ApiError } from './http.js';
import { fingerprint, InflightRequests, keyReused } from './idempotency.js';
import { chargeOnce } from './charge.js';
import { renderProvision, shortOf } from './render.js';
import { currentStatus, domainTaken, type IdempotencyRecord, type ProviderDoc, type StoredProvision } from './store.js';
import type { Engine, ServiceDefinition } from './types.js';

export interface ProvisionerDeps {
  providerId: string;
  baseUrl: () => string;
  services: Map<string, ServiceDefinition>;
  store: JsonState<ProviderDoc>;
  validator: ConfigValidator;
  rail: { url: string; clientSecret: string };
  asyncDelayMs: number;
  /** Fault switch: quotes (and charges) are the catalog price times this (default 1). */
  quoteFactor?: () => number;
  /** Fault switch: a replay with the same key and body creates anew (a broken provider). */
  nonIdempotent?: () => boolean;
}

export interface CreateResult {
  status: 201 | 202;
  provision: Provision;
  replayed: boolean;
}

const newId = (): string => `prv_${randomBytes(8).toString('hex')}`;

export class Provisioner {
  readonly #inflight = new InflightRequests();
  constructor(readonly deps: ProvisionerDeps) {}

  async create(accountId: string, key: string, body: ProvisionRequest): Promise<CreateResult> {
    const def = this.deps.services.get(body.service);
    if (!def) throw new ApiError(404, 'SERVICE_NOT_FOUND', `no service "${body.service}" at this provider`, { field: 'service' });
    const config = structuredClone(body.config);
    this.deps.validator.check(def.id, config);
    const fp = fingerprint({ service: def.id, name: body.name, config });
    return this.#inflight.run(accountId, key, fp, () => this.#execute(accountId, key, fp, def, body, config));
  }

  async #execute(
    accountId: string,
    key: string,
    fp: string,
    def: ServiceDefinition,
    body: ProvisionRequest,
    config: Record<string, unknown>,
  ): Promise<CreateResult> {
    const { store } = this.deps;
    const listed = def.pricing.type === 'one_time' || def.pricing.type === 'recurring' ? def.pricing : undefined;
    const factor = this.deps.quoteFactor?.() ?? 1;
    const price = listed && factor !== 1 && listed.amount !== undefined ? { ...listed, amount: Math.round(listed.amount * factor) } : listed;
    // Step 1: claim the key (or find its stored result) and hold what must be unique.
    const claimed = await store.update((doc): { replay: IdempotencyRecord } | { rec: IdempotencyRecord } => {
      const existing = doc.idempotency[accountId]?.[key];
      if (existing && existing.fingerprint !== fp) throw keyReused();
      const broken = this.deps.nonIdempotent?.() === true;
      if (existing?.state === 'done' && !broken) return { replay: existing };
      if (existing && !broken) return { rec: existing }; // resumed after a crash mid-request
      const domain = this.#checkUnique(doc, accountId, def, config);
      if (price && body.payment_token === undefined) {
        throw new ApiError(402, 'PAYMENT_REQUIRED', `${def.id} costs ${price.amount} ${price.currency} minor units; send a payment_token`, {
          field: 'payment_token',
          body: { quote: { amount: price.amount, currency: price.currency, ...(price.interval ? { interval: price.interval } : {}) } },
        });
      }
      const rec: IdempotencyRecord = { fingerprint: fp, provisionId: newId(), state: 'processing', createdAt: new Date().toISOString() };
      if (domain) rec.domain = domain;
      (doc.idempotency[accountId] ??= {})[key] = rec;
      return { rec: structuredClone(rec) };
    });
    if ('replay' in claimed) {
      const p = store.data.provisions[claimed.replay.provisionId];
      if (!p) throw new ApiError(500, 'INTERNAL', 'idempotency record points at a missing provision');
      const replayed = claimed.replay.httpStatus;
      return { status: replayed === 202 ? 202 : 201, provision: this.render(p), replayed: true };
    }
    const { rec } = claimed;
    // Step 2: charge once, before anything is created.
    const charge = price
      ? await chargeOnce(store, accountId, key, rec, {
          rail: this.deps.rail,
          providerId: this.deps.providerId,
          paymentToken: body.payment_token,
          service: def.id,
          amount: price.amount ?? 0,
          currency: price.currency ?? 'USD',
          ...(price.interval ? { interval: price.interval } : {}),
          reference: rec.provisionId,
        })
      : rec.redemption;
    // Step 3: create the provision and bind the key to it.
    const status = def.async ? 202 : 201;
    const p = await store.update((doc) => {
      const now = new Date();
      const p: StoredProvision = {
        id: rec.provisionId,
        accountId,
        service: def.id,
        name: body.name,
        config,
        status: def.async ? 'pending' : 'active',
        createdAt: now.toISOString(),
        ...(def.async ? { readyAt: new Date(now.getTime() + this.deps.asyncDelayMs).toISOString() } : {}),
        ...(charge ? { charge } : {}),
      };
      if (def.engine.type === 'domain') p.domain = String(config.domain);
      if (def.engine.type === 'script') {
        p.hostname = `${String(config.name)}.${shortOf(p.id)}.${this.deps.providerId}.test`;
        if (typeof config.domain === 'string') p.customDomain = config.domain;
      }
      doc.provisions[p.id] = p;
      const r = doc.idempotency[accountId]?.[key];
      if (r) {
        r.state = 'done';
        r.httpStatus = status;
        delete r.domain;
      }
      return structuredClone(p);
    });
    return { status, provision: this.render(p), replayed: false };
  }

  /** Domain engine: the domain must be free; script engine: a custom domain must be the account's. */
  #checkUnique(doc: ProviderDoc, accountId: string, def: ServiceDefinition, config: Record<string, unknown>): string | undefined {
    const domain = typeof config.domain === 'string' ? config.domain : undefined;
    if (!domain) return undefined;
    if (def.engine.type === 'domain') {
      if (domainTaken(doc, domain)) {
        throw new ApiError(409, 'DOMAIN_UNAVAILABLE', `${domain} is already registered`, { field: 'config.domain' });
      }
      return domain;
    }
    if (def.engine.type === 'script' && !this.#ownedDomain(doc, accountId, domain, false)) {
      throw new ApiError(400, 'INVALID_REQUEST', `config.domain: ${domain} is not a domain registered by this account`, {
        field: 'config.domain',
      });
    }
    return undefined;
  }

  #ownedDomain(doc: Readonly<ProviderDoc>, accountId: string, domain: string, mustBeActive: boolean): boolean {
    return Object.values(doc.provisions).some((p) => {
      const s = currentStatus(p);
      return p.accountId === accountId && p.domain === domain && (s === 'active' || (!mustBeActive && s === 'pending'));
    });
  }

  get(accountId: string, id: string): Provision {
    return this.render(this.#mine(accountId, id));
  }

  list(accountId: string): Provision[] {
    return Object.values(this.deps.store.data.provisions)
      .filter((p) => p.accountId === accountId && p.status !== 'deleted')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((p) => this.render(p));
  }

  async remove(accountId: string, id: string): Promise<{ id: string; status: 'deleted' }> {
    this.#mine(accountId, id);
    await this.deps.store.update((doc) => {
      const p = doc.provisions[id];
      if (!p || p.status === 'deleted') return;
      p.status = 'deleted';
      p.deletedAt = new Date().toISOString();
      delete doc.kv[id];
      delete doc.scripts[id];
    });
    return { id, status: 'deleted' };
  }

  /** A live provision of this account whose service uses engine `type`, with that engine; 404 otherwise. */
  owned<T extends Engine['type']>(accountId: string, id: string, type: T): { p: StoredProvision; engine: Extract<Engine, { type: T }> } {
    const p = this.#mine(accountId, id);
    const engine = this.deps.services.get(p.service)?.engine;
    if (!engine || !isEngine(engine, type) || currentStatus(p) !== 'active') throw notFound();
    return { p, engine };
  }

  /** The deployed content served for a Host name (port stripped), if a live script has it. */
  siteFor(host: string): string | undefined {
    const doc = this.deps.store.data;
    for (const p of Object.values(doc.provisions)) {
      if (p.hostname === undefined || currentStatus(p) !== 'active') continue;
      const byDomain = p.customDomain === host && this.#ownedDomain(doc, p.accountId, host, true);
      if (p.hostname !== host && !byDomain) continue;
      const d = doc.scripts[p.id];
      if (d) return d.content;
    }
    return undefined;
  }

  /** A provision of this account (deleted ones too); 404 for anyone else's. */
  mine(accountId: string, id: string): StoredProvision {
    return this.#mine(accountId, id);
  }

  #mine(accountId: string, id: string): StoredProvision {
    const p = this.deps.store.data.provisions[id];
    if (!p || p.accountId !== accountId) throw notFound();
    return p;
  }

  render(p: StoredProvision): Provision {
    return renderProvision(p, this.deps.services.get(p.service), this.deps.baseUrl(), this.deps.providerId);
  }
}

function isEngine<T extends Engine['type']>(engine: Engine, type: T): engine is Extract<Engine, { type: T }> {
  return engine.type === type;
}

export function notFound(): ApiError {
  return new ApiError(404, 'NOT_FOUND', 'no such provision for this account');
}
