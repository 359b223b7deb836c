/**
 * The add flow, shared by `add` and `up` (README "Provisioning", "Money";
 * docs/protocol.md §4; docs/architecture.md "The add flow"), as the steps
 * in src/provision/steps/, in this order:
 *
 *   1. intend     the journal slot: already provisioned, an unfinished
 *                 attempt to continue with its Idempotency-Key, or a fresh key;
 *   2. pay        before anything is sent: the price limit, the caps and the
 *                 human's yes; then the journal entry is written;
 *   3. authorize  at the provider (stored grant, attested ID-JAG, or
 *                 device-flow consent; terms asked once);
 *   4. provision  the ledger hold, journal `sent`, the POST with the key
 *                 (transient failures retried with the SAME key, a 402
 *                 quote paid), a 202 journaled `pending` and polled up to a
 *                 bound;
 *   5. record     settle the hold, credentials to the vault, the manifest,
 *                 journal `active`.
 *
 * A crash or a fault at any step leaves the journal entry behind; the same
 * `add` (same provider, service and name), `add --complete` or `up` finds the
 * same slot and presents the same key, so the provider answers the provision
 * it already made: never a second resource.
 *
 * Still pending when the bound runs out: exit 0 with status `pending`, the
 * resource recorded as pending in the manifest, and `next_steps` naming the
 * command that resumes (the same add). Polling is not an error.
 *
 * Providers that bill a payment method of their own (`billing: 'external'`,
 * README "Cloudflare (built in)") never touch the payment rail: their quote
 * is held in agentprov's ledger (src/payment/ledger.ts) under the journal's
 * Idempotency-Key. Outcome → ledger:
 *   - active                                  → charge (the provider's reported
 *     charge, else the quote; never above the hold);
 *   - pending                                 → still held (Cloudflare charges
 *     when its workflow succeeds; the re-run that sees it active charges);
 *   - definite refusal (exit class 2, 3 or 4,
 *     e.g. PAYMENT_METHOD_REQUIRED, DOMAIN_UNAVAILABLE) or provision failed
 *                                             → release; the journal entry fails;
 *   - uncertain (unreachable, 5xx, crash)     → still held: the re-run adopts
 *     the hold (no second quote, hold or question) and the provider finds
 *     what the first attempt made.
 */
import type { Deps } from '../core/deps.js';
import type { Provider } from '../providers/provider.js';
import type { PaymentOptions } from '../payment/paid.js';
import type { AddOutcome, AddRequest } from './attempt.js';
import { writeJournal } from './journal.js';
import { authorize, reauthorize } from './steps/authorize.js';
import { intend } from './steps/intend.js';
import { approveSpending } from './steps/pay.js';
import { provisionAndPoll } from './steps/provision.js';
import { settleAndRecord } from './steps/record.js';

export type { AddOutcome, AddRequest } from './attempt.js';
export { defaultName, nameInUse, sameConfig } from './steps/intend.js';

export const DEFAULT_WAIT_SECONDS = 60;

/**
 * The yes-flags a run was given, for its resume command (which the
 * authorize and pay steps extend with the one yes they miss): a human who
 * follows the next steps one by one must never lose an earlier yes (terms,
 * then payment, then terms again...). `--max-price` is written as parsed.
 */
export function yesFlags(r: { acceptTos: boolean; payment?: PaymentOptions }): string {
  return [
    ...(r.acceptTos ? ['--accept-tos'] : []),
    ...(r.payment?.confirmed ? ['--confirm-paid-service'] : []),
    ...(r.payment?.maxPrice !== undefined ? [`--max-price ${(r.payment.maxPrice / 100).toFixed(2)}`] : []),
  ]
    .map((f) => ` ${f}`)
    .join('');
}

/** Provision one resource for `req`, resuming a journaled attempt when there is one. */
export async function provisionOne(deps: Deps, provider: Provider, req: AddRequest): Promise<AddOutcome> {
  const intent = await intend(deps, req);
  if ('done' in intent) {
    // Provisioned, but the grant was revoked (`agentprov revoke`): `add` is the way back to a usable resource.
    if (req.command !== 'add') return intent.done;
    const authorization = await reauthorize(deps, provider, req, intent.done.warnings);
    return authorization ? { ...intent.done, authorization } : intent.done;
  }
  const { attempt } = intent;
  const spending = await approveSpending(deps, provider, attempt);
  await writeJournal(deps.paths.state, attempt.entry);
  const authorization = await authorize(deps, provider, attempt);
  const provision = await provisionAndPoll(deps, provider, attempt, spending);
  return settleAndRecord(deps, attempt, spending, provision, authorization);
}
