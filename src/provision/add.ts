/**
 * The add flow (issue 6 item 1), shared by `add` and `up`:
 *
 *   journal `intended` (Idempotency-Key on disk) → authorize at the provider
 *   (stored grant, attested ID-JAG, or device-flow consent; terms asked once)
 *   → journal `sent` → POST the provision with the key (transient failures
 *   retried with the SAME key) → 202: journal `pending`, poll with backoff up
 *   to a bound → credentials to the vault → manifest → journal `active`.
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
 * issue 9 §3) never touch the payment rail. Before anything is sent:
 * `provider.quote()` (undefined = free: nothing held, nothing asked), then
 * `--max-price`, the ledger's cap and the human's yes (payment/paid.ts). Then,
 * right before the request: a hold in agentprov's ledger (payment/ledger.ts)
 * under the journal's Idempotency-Key, recorded in the journal
 * (`ledger_hold`). Outcome → ledger:
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
 * The charge is recorded before the manifest, so a crash in between is
 * finished by the re-run (charging is idempotent per key).
 */
import * as z from 'zod';
import type { AuditRecord } from '../audit/log.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError, EXIT, isAgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import type { ManifestResource } from '../project/manifest.js';
import type { Provision } from '../wire/provider.js';
import type { Provider } from '../providers/provider.js';
import { sanitizeLine } from '../util/sanitize.js';
import { outcomeOf, withNextSteps, type AddOutcome, type AddRequest } from './attempt.js';
import { authorize } from './steps/authorize.js';
import { intend } from './steps/intend.js';
import { audit } from './audit.js';
import { approveExternal, approvePayment, externalPrice, payForQuote, quoteOf, upfrontPrice, type PaymentOptions, type Price } from '../payment/paid.js';
import { formatMinor } from '../payment/amount.js';
import type { Ledger } from '../payment/ledger.js';
import type { LedgerEntry } from '../payment/ledger-file.js';
import { advanceJournal, ledgerFor, writeJournal, type JournalEntry } from './journal.js';
import { updateManifest, upsertResource } from '../project/manifest.js';
import { pollProvision } from './poll.js';

export type { AddOutcome, AddRequest } from './attempt.js';
export { defaultName, nameInUse, sameConfig } from './steps/intend.js';

export const DEFAULT_WAIT_SECONDS = 60;

/** Credentials a provider may return inside a provision (not in the protocol's schema; REST adapters). Kept only in the vault. */
const ReturnedCredentials = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), z.string().min(1).max(8192)).refine((c) => Object.keys(c).length <= 20);

export function credentialsEntry(slot: string): string {
  return `resource_credentials:${slot}`;
}

/** Errors after which the same key may be sent again at once (docs/protocol.md §8: 502/503 and network failures). */
function transient(err: unknown): boolean {
  if (!isAgentprovError(err)) return false;
  if (err.code === 'PROVIDER_UNREACHABLE' || err.details.retryable === true) return true;
  if (err.code !== 'PROVIDER_ERROR') return false;
  const status = err.details.status;
  const code = err.details.provider_code ?? err.details.code;
  return (typeof status === 'number' && status >= 500) || code === 'SERVICE_UNAVAILABLE' || code === 'IDEMPOTENCY_IN_PROGRESS' || code === 'PAYMENT_RAIL_UNAVAILABLE';
}

const RETRY_DELAYS_MS = [300, 1000, 2500];

async function provisionWithRetry(deps: Deps, provider: Provider, input: Parameters<Provider['provision']>[0]): Promise<Provision> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await provider.provision(input);
    } catch (err) {
      if (!transient(err) || attempt >= RETRY_DELAYS_MS.length) throw err;
      deps.debug(`provision attempt ${attempt + 1} failed (${(err as AgentprovError).code}); retrying with the same Idempotency-Key`);
      await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
    }
  }
}

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
  if ('done' in intent) return intent.done;
  const { attempt } = intent;
  const { service, name } = req;
  const state = deps.paths.state;
  const { slot, continued, resumed, warnings } = attempt;
  let entry = attempt.entry;
  // Paid: the price limit, the caps (early) and the human's yes, before anything is sent.
  const external = provider.billing === 'external';
  const price = external ? undefined : upfrontPrice(service);
  const payAudit = attempt.audit;
  // Asked once per intended add: an entry already paid for, or a provision that is only polled now, needs no second yes.
  if (price && !entry.payment && entry.state !== 'pending') {
    await approvePayment(deps, service, price, req.payment ?? { confirmed: false }, entry.state === 'intended', payAudit, req.resume);
  }
  // Billed by the provider itself: its quote against agentprov's ledger. An earlier run's live hold is adopted as it is.
  const ledger = external ? ledgerFor(deps) : undefined;
  let hold: LedgerEntry | undefined;
  let quote: (Price & { description: string }) | undefined;
  if (ledger) {
    // (Also when the journal does not record it yet: a crash between the hold and the journal write.)
    if (continued) {
      const earlier = await ledger.get(entry.idempotency_key);
      if (earlier && earlier.state !== 'released') hold = earlier;
    }
    if (!hold && (entry.state === 'intended' || entry.state === 'sent')) {
      quote = externalPrice(service, await provider.quote?.({ service: service.id, name, config: req.config }));
      if (quote) await approveExternal(deps, service, quote, req.payment ?? { confirmed: false }, ledger, payAudit, req.resume);
    }
  }
  await writeJournal(state, entry);

  const authorization = await authorize(deps, provider, attempt);

  let provision: Provision;
  if (entry.state === 'pending' && entry.provision_id) {
    provision = await provider.get(entry.provision_id, name);
  } else {
    // The hold is the authority on the cap (cross-process); taken before the request, recorded with the move to `sent`.
    if (ledger && quote) hold = await holdFor(deps, ledger, entry, service, quote, payAudit);
    if (hold && entry.ledger_hold?.amount !== hold.amount) {
      entry = await advanceJournal(state, entry, { ledger_hold: { amount: hold.amount, currency: hold.currency, ...(hold.interval ? { interval: hold.interval } : {}) }, ...(entry.state === 'intended' ? { state: 'sent' as const } : {}) }, deps.clock.now());
    }
    if (entry.state === 'intended') entry = await advanceJournal(state, entry, { state: 'sent' }, deps.clock.now());
    try {
      const input = { service: service.id, name, config: req.config, idempotencyKey: entry.idempotency_key };
      try {
        provision = await provisionWithRetry(deps, provider, input);
      } catch (err) {
        // 402 with a quote: pay it (or refuse it) and send again with the SAME Idempotency-Key (rail-billed providers only).
        const quote = !external && isAgentprovError(err) && err.code === 'PAYMENT_REQUIRED_QUOTE' ? quoteOf(err) : undefined;
        if (!quote) throw err;
        const paid = await payForQuote(deps, service, price, quote, req.payment ?? { confirmed: false }, entry.idempotency_key, payAudit);
        const sentEntry: JournalEntry = entry;
        entry = await advanceJournal(state, sentEntry, { payment: { token_id: paid.tokenId, max_amount: paid.maxAmount, currency: paid.currency, expires_at: paid.expiresAt } }, deps.clock.now());
        provision = await provisionWithRetry(deps, provider, { ...input, paymentToken: paid.token });
      }
    } catch (err) {
      // A definite refusal of the request (bad input, money) leaves the key unbound: the next add starts afresh.
      // Anything else (unreachable, 5xx, garbage) may have created it: the entry stays `sent` and a re-run replays the key.
      // An externally billed provider's "a human must act" (no billing profile, link revoked) is definite too: nothing was bought.
      if (isAgentprovError(err) && (err.exitCode === EXIT.USAGE || err.exitCode === EXIT.MONEY_REFUSED || (external && err.exitCode === EXIT.HUMAN_ACTION))) {
        await advanceJournal(state, entry, { state: 'failed', error: err.code }, deps.clock.now());
        await audit(deps, { command: req.command, provider: service.provider, resource: name, decision: 'refused', details: { service: service.id, code: err.code } }, warnings);
        if (ledger && hold) await releaseHold(deps, ledger, hold, err.code, payAudit);
        throw err;
      }
      if (isAgentprovError(err)) throw withNextSteps(err, [req.resume]);
      throw err;
    }
  }
  checkProvision(provision, service, name);
  entry = await advanceJournal(state, entry, { state: provision.status === 'pending' ? 'pending' : entry.state, provision_id: provision.id, provision_status: provision.status }, deps.clock.now());

  if (provision.status === 'pending') {
    provision = await pollProvision(deps, provider, provision, req.waitSeconds, `${service.provider}/${service.id} ${name}`);
    checkProvision(provision, service, name);
  }

  if (provision.status === 'failed' || provision.status === 'deleted') {
    await advanceJournal(state, entry, { state: 'failed', provision_status: provision.status, error: 'PROVISION_FAILED' }, deps.clock.now());
    await audit(deps, { command: req.command, provider: service.provider, resource: name, decision: 'failed', details: { service: service.id, id: provision.id, status: provision.status } }, warnings);
    if (ledger && hold) await releaseHold(deps, ledger, hold, 'PROVISION_FAILED', payAudit);
    throw new AgentprovError('PROVISION_FAILED', `${service.provider} reports the provision ${provision.id} of ${name} as ${provision.status}`, {
      details: { provider: service.provider, service: service.id, name, id: provision.id, status: provision.status },
      nextSteps: [`agentprov add ${service.provider}/${service.id} --name ${name}`],
    });
  }

  // Credentials a provider returned with the provision go to the vault only.
  const creds = ReturnedCredentials.safeParse((provision as Record<string, unknown>).credentials);
  if (creds.success) {
    for (const v of Object.values(creds.data)) deps.io.redactor.add(v);
    const vault = await deps.vault();
    await vault.set(credentialsEntry(slot), { v: 1, provider: service.provider, service: service.id, credentials: creds.data });
  }

  // What was charged: the provider's word (rail), or, billed by the provider itself, the ledger's charge once active (before the manifest).
  let charge: ManifestResource['charge'] = provision.charge ? { amount: provision.charge.amount, currency: provision.charge.currency, ...(provision.charge.interval ? { interval: provision.charge.interval } : {}) } : undefined;
  if (ledger && hold) {
    const charged = provision.status === 'active' ? await chargeHold(ledger, hold, provision, payAudit, warnings) : undefined;
    charge = charged ? { amount: charged.amount, currency: charged.currency, ...(charged.interval ? { interval: charged.interval } : {}) } : undefined;
  }
  const record: ManifestResource = {
    name,
    provider: service.provider,
    service: service.id,
    config: req.config,
    id: provision.id,
    status: provision.status,
    created_at: provision.created_at,
    ...(charge ? { charge } : {}),
  };
  await updateManifest(deps, req.manifestPath, (m) => upsertResource(m, record));
  if (charge) {
    entry = await advanceJournal(state, entry, { charge }, deps.clock.now());
    if (entry.payment && provision.charge) await payAudit({ decision: 'payment_redeemed', details: { service: service.id, id: provision.id, amount: provision.charge.amount, currency: provision.charge.currency, payment_token_id: entry.payment.token_id } });
  }
  if (provision.status === 'active') {
    await advanceJournal(state, entry, { state: 'active', provision_status: 'active' }, deps.clock.now());
    await audit(deps, { command: req.command, provider: service.provider, resource: name, decision: 'provisioned', details: { service: service.id, id: provision.id, resumed } }, warnings);
  } else {
    warnings.push(`${name} is still ${provision.status} after ${req.waitSeconds}s; re-run the same command to wait for it`);
  }
  return outcomeOf(req, warnings, provision, { resumed, authorization, ...(record.charge ? { charge: record.charge } : {}) });
}

type PayAudit = (r: Omit<AuditRecord, 'command'>) => Promise<void>;

/** Take (or get back) this add's hold; a cap refusal fails the journal entry (nothing was sent). */
async function holdFor(deps: Deps, ledger: Ledger, entry: JournalEntry, service: CatalogService, quote: Price & { description: string }, payAudit: PayAudit): Promise<LedgerEntry> {
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
    if (!replayed) await payAudit({ decision: 'ledger_hold', details: { service: service.id, amount: held.amount, currency: held.currency } });
    return held;
  } catch (err) {
    if (isAgentprovError(err) && err.code === 'CAP_EXCEEDED') {
      await payAudit({ decision: 'payment_refused', details: { service: service.id, code: err.code, amount: quote.amount, source: 'ledger' } });
      await advanceJournal(deps.paths.state, entry, { state: 'failed', error: err.code }, deps.clock.now());
    }
    throw err;
  }
}

/** Give the hold back after a definite refusal or failure; never masks the error being thrown. */
async function releaseHold(deps: Deps, ledger: Ledger, hold: LedgerEntry, reason: string, payAudit: PayAudit): Promise<void> {
  try {
    const released = await ledger.release(hold.key, reason);
    if (released?.state === 'released') await payAudit({ decision: 'ledger_released', details: { service: hold.service, amount: released.amount, currency: released.currency, reason } });
  } catch (err) {
    deps.debug(`ledger hold not released (${isAgentprovError(err) ? err.code : 'error'}); it is released once its add is abandoned for 24 h`);
  }
}

/** Charge the hold of an active provision: the provider's reported amount when it has one, else the hold; never above the hold. */
async function chargeHold(ledger: Ledger, hold: LedgerEntry, provision: Provision, payAudit: PayAudit, warnings: string[]): Promise<LedgerEntry | undefined> {
  const current = await ledger.get(hold.key);
  if (!current) {
    warnings.push(`the spending ledger ${ledger.path} no longer has this add's hold: the charge of ${formatMinor(hold.amount, hold.currency)} is not recorded there`);
    return undefined;
  }
  if (current.state === 'charged') return current;
  const reported = provision.charge && provision.charge.currency === current.currency ? provision.charge.amount : undefined;
  const charged = async (amount: number): Promise<LedgerEntry> => {
    const e = await ledger.charge(current.key, amount);
    await payAudit({ decision: 'ledger_charged', details: { service: current.service, id: provision.id, amount: e.amount, currency: e.currency } });
    return e;
  };
  try {
    return await charged(reported ?? current.amount);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'LEDGER_CHARGE_ABOVE_HOLD' || reported === undefined) throw err;
    // The provider reports more than the human approved: record the approved amount and say so loudly.
    warnings.push(`${current.provider} reports charging ${formatMinor(reported, current.currency)} for ${current.resource}, more than the ${formatMinor(current.amount, current.currency)} quoted and held; the ledger records ${formatMinor(current.amount, current.currency)}: check ${current.provider}'s bill`);
    await payAudit({ decision: 'ledger_charge_above_hold', details: { service: current.service, id: provision.id, amount: reported, held: current.amount, currency: current.currency } });
    return charged(current.amount);
  }
}
/** The provider must answer for the service and name that were asked for. */
function checkProvision(p: Provision, service: CatalogService, name: string): void {
  if (p.service !== service.id || p.name !== name) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `${service.provider} answered with a provision of ${sanitizeLine(p.service)} "${sanitizeLine(p.name)}" for ${service.id} "${name}"`, {
      details: { provider: service.provider, id: p.id },
    });
  }
}
