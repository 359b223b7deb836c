/**
 * Step 2 of an add, approve and pay (README "Money"; the decisions
 * themselves are src/payment/paid.ts's):
 *
 * - before anything is sent (approveSpending): a rail-billed service's
 *   catalog price against `--max-price`, the caps and the human's yes;
 *   a provider that bills a payment method of its own (`billing:
 *   'external'`, README "Cloudflare (built in)") is asked for its quote
 *   instead (undefined = free: nothing held, nothing asked), checked the
 *   same way against agentprov's ledger. Asked once per intended add: an
 *   entry already paid for, a provision that is only polled now, or an
 *   earlier run's live hold (adopted as it is) needs no second yes.
 * - right before the request (holdBeforeSending): the ledger hold under the
 *   journal's Idempotency-Key, recorded in the journal (`ledger_hold`);
 * - on the provider's 402 with a quote (payQuote, rail-billed only): a
 *   payment token for exactly that quote, minted under the same key, its
 *   id journaled (never the token).
 *
 * Settling the hold (charge or release) is the last step's
 * (src/provision/steps/record.ts).
 */
import type { Deps } from '../../core/deps.js';
import { isAgentprovError } from '../../core/errors.js';
import type { Provider } from '../../providers/provider.js';
import type { Ledger } from '../../payment/ledger.js';
import type { LedgerEntry } from '../../payment/ledger-file.js';
import { approveExternal, approvePayment, externalPrice, payForQuote, quoteOf, upfrontPrice, type Price } from '../../payment/paid.js';
import { advance, type Attempt } from '../attempt.js';
import { ledgerFor } from '../journal.js';

/** What this add spends, and through what: the rail (a catalog price) or agentprov's ledger (the provider's quote). */
export interface Spending {
  /** Billed by the provider itself: the ledger, never the rail. */
  external: boolean;
  /** The catalog price, paid through the rail (undefined: free, or billed externally). */
  price?: Price;
  ledger?: Ledger;
  /** The provider's quote, approved by this run (none when an earlier hold is adopted). */
  quote?: Price & { description: string };
  /** This add's hold in the ledger: an earlier run's, adopted, or taken right before the request. */
  hold?: LedgerEntry;
}

/** Paid: the price limit, the caps (early) and the human's yes, before anything is sent. */
export async function approveSpending(deps: Deps, provider: Provider, attempt: Attempt): Promise<Spending> {
  const { req, entry } = attempt;
  const { service } = req;
  const external = provider.billing === 'external';
  const price = external ? undefined : upfrontPrice(service);
  if (price && !entry.payment && entry.state !== 'pending') {
    await approvePayment(deps, service, price, req.payment ?? { confirmed: false }, entry.state === 'intended', attempt.audit, req.resume);
  }
  if (!external) return { external, price };
  const ledger = ledgerFor(deps);
  let hold: LedgerEntry | undefined;
  let quote: (Price & { description: string }) | undefined;
  // An earlier run's live hold, also when the journal does not record it yet (a crash between the hold and the journal write).
  if (attempt.continued) {
    const earlier = await ledger.get(entry.idempotency_key);
    if (earlier && earlier.state !== 'released') hold = earlier;
  }
  if (!hold && (entry.state === 'intended' || entry.state === 'sent')) {
    quote = externalPrice(service, await provider.quote?.({ service: service.id, name: req.name, config: req.config }));
    if (quote) await approveExternal(deps, service, quote, req.payment ?? { confirmed: false }, ledger, attempt.audit, req.resume);
  }
  return { external, ledger, hold, quote };
}

/** The hold is the authority on the cap (cross-process): taken right before the request, recorded with the move to `sent`. */
export async function holdBeforeSending(deps: Deps, attempt: Attempt, spending: Spending): Promise<void> {
  if (spending.ledger && spending.quote) spending.hold = await takeHold(deps, spending.ledger, attempt, spending.quote);
  const hold = spending.hold;
  if (hold && attempt.entry.ledger_hold?.amount !== hold.amount) {
    await advance(deps, attempt, { ledger_hold: { amount: hold.amount, currency: hold.currency, ...(hold.interval ? { interval: hold.interval } : {}) }, ...(attempt.entry.state === 'intended' ? { state: 'sent' as const } : {}) });
  }
}

/** Take (or get back) this add's hold; a cap refusal fails the journal entry (nothing was sent). */
async function takeHold(deps: Deps, ledger: Ledger, attempt: Attempt, quote: Price & { description: string }): Promise<LedgerEntry> {
  const { entry, req } = attempt;
  const { service } = req;
  try {
    const { entry: held, replayed } = await ledger.hold({
      key: entry.idempotency_key,
      provider: service.provider,
      service: service.id,
      resource: entry.name,
      description: quote.description,
      amount: quote.amount,
      currency: 'USD',
      ...(quote.interval ? { interval: quote.interval } : {}),
      slot: entry.slot,
    });
    if (!replayed) await attempt.audit({ decision: 'ledger_hold', details: { service: service.id, amount: held.amount, currency: held.currency } });
    return held;
  } catch (err) {
    if (isAgentprovError(err) && err.code === 'CAP_EXCEEDED') {
      await attempt.audit({ decision: 'payment_refused', details: { service: service.id, code: err.code, amount: quote.amount, source: 'ledger' } });
      await advance(deps, attempt, { state: 'failed', error: err.code });
    }
    throw err;
  }
}

/**
 * The provider's 402 with a quote (rail-billed providers only): pay it, or
 * refuse it, and journal the token's id; the request goes again with the
 * SAME Idempotency-Key and the token this returns. Any other error is
 * thrown as it is.
 */
export async function payQuote(deps: Deps, attempt: Attempt, spending: Spending, err: unknown): Promise<string> {
  const quote = !spending.external && isAgentprovError(err) && err.code === 'PAYMENT_REQUIRED_QUOTE' ? quoteOf(err) : undefined;
  if (!quote) throw err;
  const { req } = attempt;
  const paid = await payForQuote(deps, req.service, spending.price, quote, req.payment ?? { confirmed: false }, attempt.entry.idempotency_key, attempt.audit);
  await advance(deps, attempt, { payment: { token_id: paid.tokenId, max_amount: paid.maxAmount, currency: paid.currency, expires_at: paid.expiresAt } });
  return paid.token;
}
