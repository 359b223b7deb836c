/**
 * Updating a provision (docs/protocol.md §4.4): move it to another service
 * its current service lists in `allowed_updates` (a plan change), or change
 * its config in place when the service lists itself. Idempotent like create
 * (idempotency.ts: the key is the account's, bound to a fingerprint of the
 * provision, the target service and the config); a move to a paid service is
 * paid with a single-use payment token redeemed once, before anything
 * changes; a downgrade refunds nothing. What the plan allows changes at once:
 * the KV engine reads its key limit from the provision's current service.
 */
import type { Provision, ProvisionUpdateRequest } from '../../wire/provider.js';
import { ApiError } from './http.js';
import { fingerprint, InflightRequests, keyReused } from './idempotency.js';
import type { Provisioner } from './provisions.js';
import { chargeOnce } from './charge.js';
import { currentStatus, type IdempotencyRecord, type ProviderDoc, type StoredProvision } from './store.js';
import type { ServiceDefinition } from './types.js';

export interface UpdateResult {
  provision: Provision;
  replayed: boolean;
}

export class Updater {
  readonly #inflight = new InflightRequests();
  constructor(readonly provisioner: Provisioner) {}

  async update(accountId: string, id: string, key: string, body: ProvisionUpdateRequest): Promise<UpdateResult> {
    const { services, validator } = this.provisioner.deps;
    this.provisioner.mine(accountId, id); // 404 for anyone else's
    const target = services.get(body.service);
    if (!target) throw new ApiError(404, 'SERVICE_NOT_FOUND', `no service "${body.service}" at this provider`, { field: 'service' });
    const config = structuredClone(body.config);
    validator.check(target.id, config);
    const fp = fingerprint({ service: target.id, name: `update:${id}`, config });
    return this.#inflight.run(accountId, key, fp, () => this.#execute(accountId, id, key, fp, target, config, body.payment_token));
  }

  async #execute(accountId: string, id: string, key: string, fp: string, target: ServiceDefinition, config: Record<string, unknown>, paymentToken: string | undefined): Promise<UpdateResult> {
    const { store, services, rail, providerId } = this.provisioner.deps;
    // Step 1: claim the key (or find its stored result); check the move and its price before anything is charged.
    const claimed = await store.update((doc): { replay: true } | { rec: IdempotencyRecord; price?: Price } => {
      const existing = doc.idempotency[accountId]?.[key];
      if (existing && existing.fingerprint !== fp) throw keyReused();
      if (existing?.state === 'done') return { replay: true };
      const p = doc.provisions[id]!;
      const price = this.#checkMove(doc, p, services.get(p.service), target);
      if (existing) return { rec: existing, ...(price ? { price } : {}) }; // resumed after a crash mid-request
      if (price && paymentToken === undefined) {
        throw new ApiError(402, 'PAYMENT_REQUIRED', `moving to ${target.id} costs ${price.amount} ${price.currency} minor units; send a payment_token`, {
          field: 'payment_token',
          body: { quote: price },
        });
      }
      const rec: IdempotencyRecord = { fingerprint: fp, provisionId: id, state: 'processing', createdAt: new Date().toISOString() };
      (doc.idempotency[accountId] ??= {})[key] = rec;
      return { rec: structuredClone(rec), ...(price ? { price } : {}) };
    });
    if ('replay' in claimed) return { provision: this.provisioner.get(accountId, id), replayed: true };
    const { rec, price } = claimed;
    // Step 2: charge once, before anything changes.
    const charge = price
      ? await chargeOnce(store, accountId, key, rec, { rail, providerId, paymentToken, service: target.id, amount: price.amount, currency: price.currency, ...(price.interval ? { interval: price.interval } : {}), reference: id })
      : rec.redemption;
    // Step 3: apply the change and bind the key to it.
    await store.update((doc) => {
      const p = doc.provisions[id]!;
      const moving = p.service !== target.id;
      p.service = target.id;
      p.config = config;
      p.updatedAt = new Date().toISOString();
      if (charge) p.charge = charge;
      else if (moving && !paidPrice(target)) delete p.charge; // a free plan: nothing is charged any more (and nothing refunded)
      const r = doc.idempotency[accountId]?.[key];
      if (r) {
        r.state = 'done';
        r.httpStatus = 200;
      }
    });
    return { provision: this.provisioner.get(accountId, id), replayed: false };
  }

  /** The move must be allowed, the provision active, its data within the target's limits; returns what it costs. */
  #checkMove(doc: Readonly<ProviderDoc>, p: StoredProvision, current: ServiceDefinition | undefined, target: ServiceDefinition): Price | undefined {
    if (p.status === 'deleted' || currentStatus(p) !== 'active') throw new ApiError(409, 'INVALID_REQUEST', `provision ${p.id} is ${currentStatus(p)}, not active: it cannot be updated`, { field: 'id' });
    const allowed = current?.allowed_updates ?? [];
    if (!allowed.includes(target.id)) {
      const where = allowed.length ? `it may move to: ${allowed.join(', ')}` : 'it allows no update';
      throw new ApiError(400, 'UPDATE_NOT_ALLOWED', `${p.service} cannot be updated to ${target.id}; ${where}`, { field: 'service', details: { allowed_updates: allowed } });
    }
    if (target.engine.type === 'kv') {
      const keys = Object.keys(doc.kv[p.id] ?? {}).length;
      if (keys > target.engine.maxKeys) {
        throw new ApiError(409, 'QUOTA_EXCEEDED', `the namespace holds ${keys} keys; ${target.id} allows at most ${target.engine.maxKeys}: delete some first`, { field: 'service', details: { keys, max_keys: target.engine.maxKeys } });
      }
    }
    if (p.service === target.id) return undefined; // a config change in place costs nothing
    const listed = paidPrice(target);
    if (!listed) return undefined;
    const factor = this.provisioner.deps.quoteFactor?.() ?? 1;
    return { ...listed, amount: Math.round(listed.amount * factor) };
  }
}

interface Price {
  amount: number;
  currency: string;
  interval?: 'month' | 'year';
}

function paidPrice(def: ServiceDefinition): Price | undefined {
  const p = def.pricing;
  if ((p.type !== 'one_time' && p.type !== 'recurring') || p.amount === undefined || p.currency === undefined) return undefined;
  return { amount: p.amount, currency: p.currency, ...(p.interval ? { interval: p.interval } : {}) };
}
