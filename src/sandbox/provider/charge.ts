/**
 * Step 2 of a paid create or update (docs/protocol.md §4.2, §6): the payment
 * token is redeemed at most once per Idempotency-Key. The charge is kept on
 * the key's record, so a retry after a crash finds it and does not redeem
 * again; a redemption the rail refused frees the key (nothing happened).
 */
import type { JsonState } from '../shared/json-state.js';
import { redeem } from './rail-client.js';
import type { IdempotencyRecord, ProviderDoc } from './store.js';

export interface ChargeRequest {
  rail: { url: string; clientSecret: string };
  providerId: string;
  paymentToken: string | undefined;
  service: string;
  amount: number;
  currency: string;
  interval?: 'month' | 'year';
  /** The rail's reference for the redemption: the provision's id. */
  reference: string;
}

export async function chargeOnce(
  store: JsonState<ProviderDoc>,
  accountId: string,
  key: string,
  rec: IdempotencyRecord,
  req: ChargeRequest,
): Promise<NonNullable<IdempotencyRecord['redemption']>> {
  if (rec.redemption) return rec.redemption;
  let paid: NonNullable<IdempotencyRecord['redemption']>;
  try {
    const r = await redeem(req.rail, req.providerId, { paymentToken: req.paymentToken ?? '', service: req.service, amount: req.amount, currency: req.currency, reference: req.reference });
    paid = { amount: r.amount, currency: r.currency, redemptionId: r.id, ...(req.interval ? { interval: req.interval } : {}) };
  } catch (err) {
    await store.update((doc) => {
      delete doc.idempotency[accountId]?.[key]; // nothing happened: the key is free again
    });
    throw err;
  }
  await store.update((doc) => {
    const r = doc.idempotency[accountId]?.[key];
    if (r) r.redemption = paid;
  });
  return paid;
}
