/**
 * Amounts: integer minor units on the wire, major units ("12.00") on the
 * command line (docs/architecture.md; the wire carries minor units).
 */
import { AgentprovError } from '../core/errors.js';
import { MAX_MINOR_AMOUNT } from '../wire/rail.js';

const MAJOR = /^(\d{1,10})(?:\.(\d{1,2}))?$/;

/** "12", "12.5", "12.00" → 1200 minor units. Anything else is USAGE. */
export function parseMajorAmount(text: string, flag: string): number {
  const m = MAJOR.exec(text.trim());
  const minor = m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : NaN;
  if (!Number.isSafeInteger(minor) || minor > MAX_MINOR_AMOUNT) {
    throw new AgentprovError('USAGE', `${flag} takes an amount in major units such as 12.00, not "${text.slice(0, 40)}"`);
  }
  return minor;
}

/** `--confirm-paid-service` and `--max-price` as add and up take them (payment/paid.ts PaymentOptions). */
export function paymentFlags(opts: Record<string, unknown>): { confirmed: boolean; maxPrice?: number } {
  return { confirmed: Boolean(opts.confirmPaidService), ...(typeof opts.maxPrice === 'string' ? { maxPrice: parseMajorAmount(opts.maxPrice, '--max-price') } : {}) };
}

/** 1200, "USD" → "12.00 USD". */
export function formatMinor(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency}`;
}
