/**
 * The paid part of `add` (issue 7, DESIGN §3.7):
 *
 * - before anything is sent: the catalog price against `--max-price`, the
 *   rail's spend view against the caps (said early; the rail stays the
 *   authority), and the human's yes (TTY prompt or `--confirm-paid-service`);
 * - on the provider's 402 quote: refuse a quote above the catalog price or
 *   `--max-price`, then mint a payment token bound to provider, service and
 *   max = the quoted amount, with the journal's Idempotency-Key as the rail's
 *   idempotency_key (a crash and re-run gets the same token: never two holds).
 *
 * The token secret goes to the redactor and to the provider, nowhere else.
 *
 * Providers that bill a payment method of their own (`billing: 'external'`,
 * issue 9 §3) never see the rail: their price is the provider's own quote
 * (asked before anything is sent; the catalog price is only indicative, so
 * the quote-above-catalog rule does not apply, `--max-price` does), the cap
 * is agentprov's ledger (src/payment/ledger.ts), and the human's yes is asked
 * the same way, naming what is bought and who bills it.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError, isAgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import type { AuditRecord } from '../audit/log.js';
import { sanitizeLine } from '../util/sanitize.js';
import { formatMinor } from './amount.js';
import { checkSpend, openRail, remainingFor, type RailClient } from './rail.js';
import { type Ledger } from './ledger.js';
import { checkLedgerSpend } from './ledger-file.js';
import type { ExternalQuote } from '../providers/provider.js';
import { MAX_MINOR_AMOUNT, RAIL_CURRENCY } from '../wire/rail.js';

export interface Price {
  amount: number;
  currency: string;
  interval?: string;
}

export interface PaymentOptions {
  /** `--confirm-paid-service`: the human's yes, for scripts. */
  confirmed: boolean;
  /** `--max-price`, minor units. */
  maxPrice?: number;
}

/** What must be paid up front, or undefined for free (and usage-billed) services. */
export function upfrontPrice(service: CatalogService): Price | undefined {
  const p = service.pricing;
  if ((p.type !== 'one_time' && p.type !== 'recurring') || p.amount === undefined || p.currency === undefined || p.amount === 0) return undefined;
  return { amount: p.amount, currency: p.currency, ...(p.interval ? { interval: p.interval } : {}) };
}

export const describePrice = (p: Price): string => `${formatMinor(p.amount, p.currency)}${p.interval ? `/${p.interval}` : ' once'}`;

type Audit = (record: Omit<AuditRecord, 'command'>) => Promise<void>;

export function priceAboveLimit(service: CatalogService, price: Price, limit: number, what: 'catalog price' | 'quote'): AgentprovError {
  return new AgentprovError('PRICE_ABOVE_LIMIT', `the ${what} of ${service.provider}/${service.id}, ${describePrice(price)}, is above --max-price ${formatMinor(limit, price.currency)}`, {
    details: { provider: service.provider, service: service.id, amount: price.amount, currency: price.currency, max_price: limit, source: what === 'quote' ? 'quote' : 'catalog' },
    nextSteps: [`agentprov catalog ${service.provider}/${service.id}`],
  });
}

/**
 * Everything decided before a request is sent. `early` false skips the
 * spend check (a resumed add whose own hold or charge is already counted).
 */
export async function approvePayment(deps: Deps, service: CatalogService, price: Price, opts: PaymentOptions, early: boolean, audit: Audit, resume: string): Promise<void> {
  if (opts.maxPrice !== undefined && price.amount > opts.maxPrice) {
    await audit({ decision: 'payment_refused', details: { service: service.id, code: 'PRICE_ABOVE_LIMIT', amount: price.amount } });
    throw priceAboveLimit(service, price, opts.maxPrice, 'catalog price');
  }
  let remaining: number | undefined;
  if (early) {
    const spend = await (await openRail(deps)).spend();
    const refusal = checkSpend(spend, service.provider, price.amount);
    if (refusal) {
      await audit({ decision: 'payment_refused', details: { service: service.id, code: 'CAP_EXCEEDED', amount: price.amount, source: 'spend_view' } });
      throw refusal;
    }
    remaining = remainingFor(spend, service.provider);
  }
  if (opts.confirmed) return;
  await askHuman(deps, service, price, remaining, audit, resume);
}

/** The human's yes on a terminal, or PAID_CONFIRMATION_REQUIRED (exit 3) for an agent. `external`: what is bought, billed by the provider. */
async function askHuman(deps: Deps, service: CatalogService, price: Price, remaining: number | undefined, audit: Audit, resume: string, external?: { description: string }): Promise<void> {
  const what = external ? `${service.provider}/${service.id}: ${external.description}` : `${service.provider}/${service.id}`;
  const billed = external ? `, billed by ${service.provider} to the payment method on your ${service.provider} account` : '';
  const question = `${what} costs ${describePrice(price)}${billed}${remaining !== undefined ? `; ${formatMinor(remaining, price.currency)} remains of your ${service.provider} cap this month` : ''}. Pay it?`;
  const extra = external ? { description: external.description, billed_by: 'provider' } : {};
  if (deps.canPrompt()) {
    if (await deps.prompter.confirm(question, false)) return;
    await audit({ decision: 'payment_declined_by_human', details: { service: service.id, amount: price.amount } });
    throw new AgentprovError('PAID_CONFIRMATION_REQUIRED', `not confirmed: ${service.provider}/${service.id} was not bought (nothing was sent)`, {
      details: { provider: service.provider, service: service.id, amount: price.amount, currency: price.currency, ...(price.interval ? { interval: price.interval } : {}), ...extra },
    });
  }
  throw new AgentprovError('PAID_CONFIRMATION_REQUIRED', `${what} costs ${describePrice(price)}${billed}: a human must confirm the payment`, {
    details: {
      provider: service.provider,
      service: service.id,
      amount: price.amount,
      currency: price.currency,
      price: describePrice(price),
      ...(price.interval ? { interval: price.interval } : {}),
      ...(remaining !== undefined ? { cap_remaining: remaining } : {}),
      ...extra,
    },
    nextSteps: [`${resume} --confirm-paid-service`],
  });
}

/** An external provider's quote, narrowed: undefined for free; refused when it is not a price the ledger can hold. */
export function externalPrice(service: CatalogService, quote: ExternalQuote | undefined): (Price & { description: string }) | undefined {
  if (quote === undefined) return undefined;
  if (!Number.isSafeInteger(quote.amount) || quote.amount < 0 || quote.amount > MAX_MINOR_AMOUNT || typeof quote.currency !== 'string') {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `${service.provider} quoted an unusable price for ${service.id}`, { details: { provider: service.provider, service: service.id } });
  }
  if (quote.amount === 0) return undefined;
  const currency = sanitizeLine(quote.currency).slice(0, 8);
  if (currency !== RAIL_CURRENCY) {
    throw new AgentprovError('CURRENCY_UNSUPPORTED', `${service.provider} quoted ${service.id} in ${currency}; spending caps are kept in ${RAIL_CURRENCY}: refused, nothing held`, {
      details: { provider: service.provider, service: service.id, amount: quote.amount, currency },
    });
  }
  const description = sanitizeLine(String(quote.description ?? '')).slice(0, 200) || service.id;
  return { amount: quote.amount, currency, ...(quote.interval ? { interval: sanitizeLine(quote.interval).slice(0, 16) } : {}), description };
}

/**
 * Externally billed (issue 9 §3), before anything is sent: `--max-price`
 * against the quote, the ledger's view of the cap (said early; the hold is
 * the authority), and the human's yes. No payment rail is involved.
 */
export async function approveExternal(
  deps: Deps,
  service: CatalogService,
  quote: Price & { description: string },
  opts: PaymentOptions,
  ledger: Ledger,
  audit: Audit,
  resume: string,
): Promise<void> {
  if (opts.maxPrice !== undefined && quote.amount > opts.maxPrice) {
    await audit({ decision: 'payment_refused', details: { service: service.id, code: 'PRICE_ABOVE_LIMIT', amount: quote.amount, source: 'quote' } });
    throw priceAboveLimit(service, quote, opts.maxPrice, 'quote');
  }
  const spend = await ledger.spend();
  const refusal = checkLedgerSpend(spend, service.provider, quote.amount);
  if (refusal) {
    await audit({ decision: 'payment_refused', details: { service: service.id, code: 'CAP_EXCEEDED', amount: quote.amount, source: 'ledger' } });
    throw refusal;
  }
  if (opts.confirmed) return;
  // A ledger's spend view has no global cap, so this is what remains under the provider's.
  await askHuman(deps, service, quote, remainingFor(spend, service.provider), audit, resume, { description: quote.description });
}

/** A provider's 402 quote, narrowed. */
export function quoteOf(err: AgentprovError): Price | undefined {
  const q = err.details.quote as Record<string, unknown> | undefined;
  if (!q || typeof q.amount !== 'number' || !Number.isSafeInteger(q.amount) || q.amount < 0 || typeof q.currency !== 'string') return undefined;
  return { amount: q.amount, currency: q.currency, ...(typeof q.interval === 'string' ? { interval: sanitizeLine(q.interval).slice(0, 16) } : {}) };
}

export interface MintedPayment {
  token: string;
  tokenId: string;
  maxAmount: number;
  currency: string;
  expiresAt: string;
}

/** Refuse a quote we must not pay; otherwise mint a token for exactly the quote. */
export async function payForQuote(
  deps: Deps,
  service: CatalogService,
  catalog: Price | undefined,
  quote: Price,
  opts: PaymentOptions,
  idempotencyKey: string,
  audit: Audit,
  rail?: RailClient,
): Promise<MintedPayment> {
  const refuse = async (err: AgentprovError): Promise<never> => {
    await audit({ decision: 'payment_refused', details: { service: service.id, code: err.code, amount: quote.amount, currency: sanitizeLine(quote.currency).slice(0, 8) } });
    throw err;
  };
  if (!catalog || quote.currency !== catalog.currency || quote.amount > catalog.amount) {
    await refuse(
      new AgentprovError('PRICE_ABOVE_LIMIT', `${service.provider} quoted ${describePrice(quote)} for ${service.id}, more than its catalog price ${catalog ? describePrice(catalog) : 'free'}: refused, nothing paid`, {
        details: { provider: service.provider, service: service.id, amount: quote.amount, currency: sanitizeLine(quote.currency).slice(0, 8), catalog_amount: catalog?.amount ?? 0, source: 'quote_above_catalog' },
        nextSteps: [`agentprov catalog ${service.provider}/${service.id} --refresh`],
      }),
    );
  }
  if (opts.maxPrice !== undefined && quote.amount > opts.maxPrice) await refuse(priceAboveLimit(service, quote, opts.maxPrice, 'quote'));
  const client = rail ?? (await openRail(deps));
  let minted;
  try {
    minted = await client.mint({ provider: service.provider, service: service.id, max_amount: quote.amount, currency: 'USD', idempotency_key: idempotencyKey });
  } catch (err) {
    if (isAgentprovError(err)) {
      await audit({ decision: 'payment_token_refused', details: { service: service.id, code: err.code, amount: quote.amount } });
    }
    throw err;
  }
  deps.io.redactor.add(minted.payment_token);
  if (minted.provider !== service.provider || minted.service !== service.id || minted.max_amount !== quote.amount) {
    throw new AgentprovError('PAYMENT_RAIL_ERROR', 'the payment rail minted a token bound to something else than asked', { details: { rail: client.url } });
  }
  await audit({ decision: 'payment_token_issued', details: { service: service.id, payment_token_id: minted.id, max_amount: minted.max_amount, currency: minted.currency, expires_at: minted.expires_at } });
  return { token: minted.payment_token, tokenId: minted.id, maxAmount: minted.max_amount, currency: minted.currency, expiresAt: minted.expires_at };
}
