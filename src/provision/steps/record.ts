/**
 * Step 5 of an add, settle and record, once the provider has answered:
 *
 * - failed (or deleted): the journal entry fails, the audit says so and
 *   the ledger hold is given back: PROVISION_FAILED (recordFailure, which
 *   steps/provision.ts also calls on a definite refusal of the request);
 * - credentials a provider returned with the provision go to the vault
 *   only;
 * - billed by the provider itself: active charges the hold (the
 *   provider's reported charge, else the quote, never above the hold),
 *   pending keeps it held (the re-run that sees it active charges). The
 *   charge is made before the manifest is written, so a crash in between
 *   is finished by the re-run (charging is idempotent per key);
 * - the resource goes to the manifest (never a secret), the charge to the
 *   journal, and the journal entry becomes `active`, or, still pending,
 *   the run says how to resume.
 */
import * as z from 'zod';
import type { AuditDetailValue } from '../../audit/log.js';
import type { Deps } from '../../core/deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import { updateManifest, upsertResource, type ManifestResource } from '../../project/manifest.js';
import type { Provision } from '../../wire/provider.js';
import { formatMinor } from '../../payment/amount.js';
import type { Ledger } from '../../payment/ledger.js';
import type { LedgerEntry } from '../../payment/ledger-file.js';
import { advance, outcomeOf, type AddAudit, type AddOutcome, type Attempt } from '../attempt.js';
import type { Spending } from './pay.js';

/** Credentials a provider may return inside a provision (not in the protocol's schema; REST adapters). Kept only in the vault. */
const ReturnedCredentials = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), z.string().min(1).max(8192)).refine((c) => Object.keys(c).length <= 20);

/** The vault entry of the credentials returned with a provision (`remove` forgets it). */
export function credentialsEntry(slot: string): string {
  return `resource_credentials:${slot}`;
}

export async function settleAndRecord(deps: Deps, attempt: Attempt, spending: Spending, provision: Provision, authorization: AddOutcome['authorization']): Promise<AddOutcome> {
  const { req } = attempt;
  const { service, name } = req;
  if (provision.status === 'failed' || provision.status === 'deleted') {
    await recordFailure(deps, attempt, spending, { provision_status: provision.status, error: 'PROVISION_FAILED', decision: 'failed', details: { service: service.id, id: provision.id, status: provision.status } });
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
    await vault.set(credentialsEntry(attempt.slot), { v: 1, provider: service.provider, service: service.id, credentials: creds.data });
  }

  // What was charged: the provider's word (rail), or, billed by the provider itself, the ledger's charge once active (before the manifest).
  let charge: ManifestResource['charge'] = provision.charge ? { amount: provision.charge.amount, currency: provision.charge.currency, ...(provision.charge.interval ? { interval: provision.charge.interval } : {}) } : undefined;
  const { ledger, hold } = spending;
  if (ledger && hold) {
    const charged = provision.status === 'active' ? await chargeHold(ledger, hold, provision, attempt.audit, attempt.warnings) : undefined;
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
    await advance(deps, attempt, { charge });
    const payment = attempt.entry.payment;
    if (payment && provision.charge) await attempt.audit({ decision: 'payment_redeemed', details: { service: service.id, id: provision.id, amount: provision.charge.amount, currency: provision.charge.currency, payment_token_id: payment.token_id } });
  }
  if (provision.status === 'active') {
    await advance(deps, attempt, { state: 'active', provision_status: 'active' });
    await attempt.audit({ decision: 'provisioned', details: { service: service.id, id: provision.id, resumed: attempt.resumed } });
  } else {
    attempt.warnings.push(`${name} is still ${provision.status} after ${req.waitSeconds}s; re-run the same command to wait for it`);
  }
  return outcomeOf(req, attempt.warnings, provision, { resumed: attempt.resumed, authorization, ...(record.charge ? { charge: record.charge } : {}) });
}

/** The add ends without a resource: the journal entry fails (its key was never bound or made nothing), the audit says why, the hold is given back. */
export async function recordFailure(
  deps: Deps,
  attempt: Attempt,
  spending: Spending,
  failure: { provision_status?: string; error: string; decision: 'refused' | 'failed'; details: Record<string, AuditDetailValue> },
): Promise<void> {
  const { error, decision, details, provision_status } = failure;
  await advance(deps, attempt, { state: 'failed', ...(provision_status ? { provision_status } : {}), error });
  await attempt.audit({ decision, details });
  if (spending.ledger && spending.hold) await releaseHold(deps, spending.ledger, spending.hold, error, attempt.audit);
}

/** Give the hold back after a definite refusal or failure; never masks the error being thrown. */
async function releaseHold(deps: Deps, ledger: Ledger, hold: LedgerEntry, reason: string, audit: AddAudit): Promise<void> {
  try {
    const released = await ledger.release(hold.key, reason);
    if (released?.state === 'released') await audit({ decision: 'ledger_released', details: { service: hold.service, amount: released.amount, currency: released.currency, reason } });
  } catch (err) {
    deps.debug(`ledger hold not released (${isAgentprovError(err) ? err.code : 'error'}); it is released once its add is abandoned for 24 h`);
  }
}

/** Charge the hold of an active provision: the provider's reported amount when it has one, else the hold; never above the hold. */
async function chargeHold(ledger: Ledger, hold: LedgerEntry, provision: Provision, audit: AddAudit, warnings: string[]): Promise<LedgerEntry | undefined> {
  const current = await ledger.get(hold.key);
  if (!current) {
    warnings.push(`the spending ledger ${ledger.path} no longer has this add's hold: the charge of ${formatMinor(hold.amount, hold.currency)} is not recorded there`);
    return undefined;
  }
  if (current.state === 'charged') return current;
  const reported = provision.charge && provision.charge.currency === current.currency ? provision.charge.amount : undefined;
  const charged = async (amount: number): Promise<LedgerEntry> => {
    const e = await ledger.charge(current.key, amount);
    await audit({ decision: 'ledger_charged', details: { service: current.service, id: provision.id, amount: e.amount, currency: e.currency } });
    return e;
  };
  try {
    return await charged(reported ?? current.amount);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'LEDGER_CHARGE_ABOVE_HOLD' || reported === undefined) throw err;
    // The provider reports more than the human approved: record the approved amount and say so loudly.
    warnings.push(`${current.provider} reports charging ${formatMinor(reported, current.currency)} for ${current.resource}, more than the ${formatMinor(current.amount, current.currency)} quoted and held; the ledger records ${formatMinor(current.amount, current.currency)}: check ${current.provider}'s bill`);
    await audit({ decision: 'ledger_charge_above_hold', details: { service: current.service, id: provision.id, amount: reported, held: current.amount, currency: current.currency } });
    return charged(current.amount);
  }
}
