/**
 * The update flow (issue 21; docs/protocol.md §4.4, §APP): move a
 * provisioned resource to another service its current one allows, or change
 * its config, reusing the add's steps where they are the same thing:
 *
 *   1. allowed, intend  (steps/update-intend.ts) the target against
 *                 `allowed_updates` (exit 2 otherwise), then the update's
 *                 journal slot: continue an unfinished update with its key,
 *                 or nothing to do, or a fresh key;
 *   2. pay        a move to a paid service: the price limit, the caps and
 *                 the human's yes exactly as `add` (steps/pay.ts); a config
 *                 change in place costs nothing; then the journal entry is
 *                 written, before anything is sent;
 *   3. authorize  the stored grant (or consent, as `add`);
 *   4. send       the update with the journal's Idempotency-Key (transient
 *                 failures retried with the same key, a 402 quote paid with
 *                 a single-use payment token minted under that key);
 *   5. record     the manifest gets the new service and config (so `up`
 *                 replays the plan), the audit log the change, the journal
 *                 entry becomes `active`.
 *
 * A definite refusal (not allowed, over the cap or price limit, a quota the
 * target plan cannot hold) fails the journal entry: nothing changed at the
 * provider or in the manifest. A crash anywhere leaves the entry for the
 * same command to finish with the same key: one change, one charge.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError, EXIT, isAgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import { updateManifest, upsertResource, type ManifestResource } from '../project/manifest.js';
import type { Provider } from '../providers/provider.js';
import { describePrice, upfrontPrice, type PaymentOptions, type Price } from '../payment/paid.js';
import { sanitizeLine } from '../util/sanitize.js';
import type { Provision } from '../wire/provider.js';
import { advance, withNextSteps, type Attempt } from './attempt.js';
import { writeJournal } from './journal.js';
import { authorize } from './steps/authorize.js';
import { approveSpending, payQuote, type Spending } from './steps/pay.js';
import { withSameKey } from './steps/retry.js';
import { checkAllowed, intendUpdate } from './steps/update-intend.js';

export interface UpdateRequest {
  /** The resource as the manifest has it. */
  resource: ManifestResource;
  /** Its current service in the catalog (undefined when the catalog no longer lists it). */
  current: CatalogService | undefined;
  /** Where it goes (`current` for a config change). */
  target: CatalogService;
  config: Record<string, unknown>;
  manifestPath: string;
  payment: PaymentOptions;
  /** The command that resumes this update (for next_steps). */
  resume: string;
}

export interface UpdateOutcome {
  name: string;
  provider: string;
  id: string | null;
  from: { service: string; config: Record<string, unknown> };
  service: string;
  config: Record<string, unknown>;
  status: string;
  /** False when the resource already had this service and config: nothing was sent. */
  changed: boolean;
  /** An earlier interrupted update was continued with its Idempotency-Key. */
  resumed: boolean;
  /** What this update charged (never the payment token). */
  charge?: Price;
  /** What the provider gave back; null when it refunds nothing. */
  refund: Price | null;
  manifest: string;
  warnings: string[];
}

export async function updateOne(deps: Deps, provider: Provider, u: UpdateRequest): Promise<UpdateOutcome> {
  const { resource, target } = u;
  checkAllowed(resource, u.current, target.id, u.config);
  if (!provider.update || !resource.id) {
    throw new AgentprovError('UNSUPPORTED_OPERATION', `${resource.provider} offers no update of ${resource.name}${resource.id ? '' : ' (it has no provision id yet)'}`, { details: { provider: resource.provider, name: resource.name } });
  }
  const req = { command: 'update' as const, service: target, name: resource.name, config: u.config, manifestPath: u.manifestPath, acceptTos: false, waitSeconds: 0, resume: u.resume, payment: u.payment };
  const base = { name: resource.name, provider: resource.provider, id: resource.id, from: { service: resource.service, config: resource.config }, service: target.id, config: u.config, manifest: u.manifestPath };
  const intent = await intendUpdate(deps, req, resource);
  if ('unchanged' in intent) return { ...base, status: resource.status ?? 'active', changed: false, resumed: false, refund: null, warnings: [] };
  const { attempt } = intent;
  const moving = target.id !== resource.service;
  const spending: Spending = moving ? await approveSpending(deps, provider, attempt) : { external: provider.billing === 'external' };
  if (spending.quote) {
    throw new AgentprovError('UNSUPPORTED_OPERATION', `${resource.provider} bills ${target.id} itself; agentprov does not buy paid plan changes there yet`, { details: { provider: resource.provider, service: target.id } });
  }
  await writeJournal(deps.paths.state, attempt.entry);
  await authorize(deps, provider, attempt);
  const provision = await send(deps, provider, attempt, spending, resource.id);
  return record(deps, attempt, u, provision, base);
}

async function send(deps: Deps, provider: Provider, attempt: Attempt, spending: Spending, provisionId: string): Promise<Provision> {
  const { req } = attempt;
  if (attempt.entry.state === 'intended') await advance(deps, attempt, { state: 'sent' });
  const input = { provisionId, name: req.name, service: req.service.id, config: req.config, idempotencyKey: attempt.entry.idempotency_key };
  const update = provider.update!.bind(provider);
  try {
    try {
      return await withSameKey(deps, 'update', () => update(input));
    } catch (err) {
      // A 402 with a quote: paid (or refused), then sent again with the SAME Idempotency-Key.
      const paymentToken = await payQuote(deps, attempt, spending, err);
      return await withSameKey(deps, 'update', () => update({ ...input, paymentToken }));
    }
  } catch (err) {
    if (isAgentprovError(err) && definite(err, spending)) {
      // The provider refused: its key is unbound and nothing changed there.
      await advance(deps, attempt, { state: 'failed', error: err.code });
      await attempt.audit({ decision: 'update_refused', details: { service: req.service.id, id: provisionId, code: err.code } });
      throw err;
    }
    if (isAgentprovError(err)) throw withNextSteps(err, [req.resume]);
    throw err;
  }
}

/** A refusal after which nothing changed: bad input, money, a human step for a self-billing provider, a 4xx the provider will not take back. */
function definite(err: AgentprovError, spending: Spending): boolean {
  if (err.exitCode === EXIT.USAGE || err.exitCode === EXIT.MONEY_REFUSED || (spending.external && err.exitCode === EXIT.HUMAN_ACTION)) return true;
  const status = err.details.status;
  return err.code === 'PROVIDER_ERROR' && err.details.retryable !== true && typeof status === 'number' && status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429;
}

async function record(deps: Deps, attempt: Attempt, u: UpdateRequest, provision: Provision, base: Omit<UpdateOutcome, 'status' | 'changed' | 'resumed' | 'refund' | 'warnings' | 'charge'>): Promise<UpdateOutcome> {
  const { resource, target } = u;
  if (provision.id !== resource.id || provision.service !== target.id) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `${resource.provider} answered the update of ${resource.name} with ${sanitizeLine(provision.id)} of ${sanitizeLine(provision.service)}`, { details: { provider: resource.provider, id: resource.id ?? null } });
  }
  const moving = target.id !== resource.service;
  // Charged by this update: a payment token was minted for it and the provider took the change.
  const paid = attempt.entry.payment && provision.charge ? { amount: provision.charge.amount, currency: provision.charge.currency, ...(provision.charge.interval ? { interval: provision.charge.interval } : {}) } : undefined;
  const keptCharge = moving ? undefined : resource.charge;
  const charge = paid ?? keptCharge;
  const next: ManifestResource = { ...resource, service: target.id, config: u.config, status: provision.status };
  delete next.charge;
  if (charge) next.charge = charge;
  await updateManifest(deps, u.manifestPath, (m) => upsertResource(m, next));
  if (paid) await advance(deps, attempt, { charge: paid });
  await advance(deps, attempt, { state: 'active', provision_status: provision.status });
  const refund = provision.refund ? { amount: provision.refund.amount, currency: provision.refund.currency } : null;
  const before = u.current ? upfrontPrice(u.current) : undefined;
  const after = upfrontPrice(target);
  if (moving && before && !refund && (!after || after.amount < before.amount)) {
    attempt.warnings.push(`${resource.provider} refunds nothing for leaving ${resource.service} (${describePrice(before)}): what was paid for the current period is not given back`);
  }
  await attempt.audit({ decision: 'updated', details: { from: resource.service, service: target.id, id: provision.id, resumed: attempt.resumed, ...(paid ? { amount: paid.amount, currency: paid.currency, payment_token_id: attempt.entry.payment?.token_id ?? null } : {}) } });
  return { ...base, status: provision.status, changed: true, resumed: attempt.resumed, ...(paid ? { charge: paid } : {}), refund, warnings: attempt.warnings };
}
