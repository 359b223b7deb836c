/**
 * A cap change with the human's approval of that very change
 * (docs/protocol-auth.md §10), whoever keeps the cap (the rail, or the
 * ledger through the setter the caller passes): lowering is immediate; a
 * raise is requested, approved at the orchestrator's identity provider
 * (cap-approval.ts) and applied once. The audit log records the request, the
 * approval (who, when, what) and the change, or the denial, expiry or
 * refusal; never a token.
 */
import { appendAudit } from '../audit/log.js';
import { discoverIssuer } from '../auth/issuer.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError, isAgentprovError } from '../core/errors.js';
import { describeAmount, describeTarget, GLOBAL_CAP, PendingCapChange } from '../wire/cap-approval.js';
import type { CapResponse } from '../wire/rail.js';
import { pendingDetails } from '../auth/store.js';
import { PENDING_CAP_ENTRY, pendingOf, pendingRaiseEntry, pollApproval, readPendingRaise, startApproval, type StoredPendingRaise } from './cap-approval.js';

/** Who bills a provider, and so keeps its cap: the orchestrator's rail, or the provider itself (agentprov's ledger). */
export type BilledBy = 'rail' | 'provider';

export type CapSetter = (provider: string | null, amount: number, approval?: string) => Promise<CapResponse>;

export interface CapTarget {
  provider: string | null;
  amount: number;
  amountText: string;
  billedBy: BilledBy;
  command: string;
}

/**
 * Set a cap: applied at once when it is not a raise; a raise becomes a
 * pending change whose approval an agent gets as CAP_RAISE_APPROVAL_REQUIRED
 * (with `--complete` to finish), and a human at a terminal approves in the
 * browser while this waits.
 */
export async function setCapWithApproval(deps: Deps, setCap: CapSetter, t: CapTarget): Promise<CapResponse> {
  try {
    return await apply(deps, setCap, t);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'CAP_RAISE_APPROVAL_REQUIRED') throw err;
    const change = PendingCapChange.parse(err.details);
    await audit(deps, t, 'cap_raise_requested', { ...changeFacts(change) });
    const started = await startApproval(deps, change);
    const stored = pendingRaiseEntry(started.pending, change, t.billedBy);
    if (!deps.canPrompt()) {
      await (await deps.vault()).set(PENDING_CAP_ENTRY, stored);
      throw approvalRequired(stored, t);
    }
    // A human at a terminal: show the change and the code, open the browser, wait for the decision.
    deps.io.err(`${describeChange(change)} needs your approval: open ${stored.verification_uri} and enter the code ${stored.user_code}, sign in again and approve it.\n`);
    if (deps.env.AGENTPROV_NO_BROWSER !== '1' && (await deps.browser.open(stored.verification_uri_complete ?? stored.verification_uri))) deps.io.err('Opened your browser.\n');
    return approveAndApply(deps, setCap, t, stored, stored.expires_at - nowSeconds(deps), started.config);
  }
}

const nowSeconds = (deps: Deps): number => Math.floor(deps.clock.now().getTime() / 1000);

function describeChange(c: PendingCapChange): string {
  return `Raising ${describeTarget(c.provider)} from ${describeAmount(c.previous_cap, c.currency)} to ${describeAmount(c.amount, c.currency)} a month`;
}

/** Audit facts of a change (never a token). */
function changeFacts(c: PendingCapChange): Record<string, string | number | null> {
  return { change_id: c.change_id, target: c.provider, previous_cap: c.previous_cap, new_cap: c.amount, currency: c.currency };
}

function approvalRequired(p: StoredPendingRaise, t: CapTarget): AgentprovError {
  const c = p.change;
  return new AgentprovError('CAP_RAISE_APPROVAL_REQUIRED', `${describeChange(c)} needs the human's approval: open ${p.verification_uri} and enter the code ${p.user_code}, sign in and approve it; the cap is unchanged until then`, {
    details: {
      ...pendingDetails(p),
      issuer: p.issuer,
      change_id: c.change_id,
      provider: c.provider,
      previous_cap: c.previous_cap,
      new_cap: c.amount,
      currency: c.currency,
      billed_by: t.billedBy,
    },
    nextSteps: [`${t.command} --complete --wait 120`],
  });
}

/** `--complete`: the pending approval of exactly this raise, polled (up to `wait` seconds), then applied. */
export async function completeRaise(deps: Deps, setCap: CapSetter, t: CapTarget, wait: number): Promise<CapResponse> {
  const stored = await readPendingRaise(deps);
  if (!stored) {
    throw new AgentprovError('NO_PENDING_AUTHORIZATION', 'there is no pending cap raise to complete; a session alone never raises a cap', { nextSteps: [t.command] });
  }
  const c = stored.change;
  if (c.provider !== (t.provider ?? GLOBAL_CAP) || c.amount !== t.amount || (stored.billed_by !== t.billedBy)) {
    const pendingTarget = c.provider === GLOBAL_CAP ? '--global' : c.provider;
    throw new AgentprovError('NO_PENDING_AUTHORIZATION', `the pending approval is for ${describeTarget(c.provider)} at ${describeAmount(c.amount, c.currency)}, not for this change; nothing was changed`, {
      details: { change_id: c.change_id, provider: c.provider, new_cap: c.amount },
      nextSteps: [`agentprov budget set ${pendingTarget} ${describeAmount(c.amount, c.currency).split(' ')[0]} --complete`, t.command],
    });
  }
  return approveAndApply(deps, setCap, t, stored, wait);
}

/** Polls the approval; once approved, presents it to the cap keeper. Denied or expired: the pending approval is dropped, the cap unchanged. */
async function approveAndApply(deps: Deps, setCap: CapSetter, t: CapTarget, stored: StoredPendingRaise, wait: number, known?: Awaited<ReturnType<typeof discoverIssuer>>): Promise<CapResponse> {
  const vault = await deps.vault();
  const drop = () => vault.delete(PENDING_CAP_ENTRY).catch(() => undefined);
  deps.io.redactor.add(stored.device_code);
  const spinner = deps.canPrompt() && deps.io.stderrIsTTY
    ? (await import('ora')).default({ text: 'Waiting for the approval…', stream: deps.io.stderr }).start()
    : undefined;
  let token: string | undefined;
  try {
    if (stored.expires_at <= nowSeconds(deps)) throw new AgentprovError('AUTHORIZATION_EXPIRED', 'the approval code expired', { details: { issuer: stored.issuer } });
    const config = known ?? (await discoverIssuer(stored.issuer, stored.client_id));
    token = await pollApproval(deps, config, pendingOf(stored), stored.change, Math.max(0, wait));
  } catch (err) {
    spinner?.fail('The raise was not approved.');
    const code = (err as { code?: string }).code;
    if (code === 'AUTHORIZATION_DENIED' || code === 'AUTHORIZATION_EXPIRED') {
      await drop();
      const denied = code === 'AUTHORIZATION_DENIED';
      await audit(deps, t, denied ? 'cap_raise_denied' : 'cap_raise_expired', changeFacts(stored.change));
      throw new AgentprovError(code, `${describeChange(stored.change)} was ${denied ? 'denied at the identity provider' : 'not approved in time'}; the cap is unchanged`, {
        details: { ...changeFacts(stored.change), billed_by: t.billedBy },
        nextSteps: [t.command],
        cause: err,
      });
    }
    throw err;
  }
  if (token === undefined) {
    spinner?.stop();
    throw approvalRequired(stored, t);
  }
  spinner?.succeed('Approved.');
  try {
    const r = await apply(deps, setCap, t, token, stored.change);
    await drop();
    return r;
  } catch (err) {
    // A refused approval will not become valid: a new raise starts over.
    if (isAgentprovError(err) && err.code !== 'PAYMENT_RAIL_UNREACHABLE' && err.code !== 'LEDGER_LOCKED') await drop();
    throw err;
  }
}

async function audit(deps: Deps, t: CapTarget, decision: string, details: Record<string, string | number | boolean | null>): Promise<void> {
  await appendAudit(deps, { command: 'budget', ...(t.provider ? { provider: t.provider } : {}), decision, details: { ...details, billed_by: t.billedBy } });
}

async function apply(deps: Deps, setCap: CapSetter, t: CapTarget, approval?: string, change?: PendingCapChange): Promise<CapResponse> {
  try {
    const r = await setCap(t.provider, t.amount, approval);
    if (r.change) {
      // Who approved what, and when (from the cap keeper, which verified the approval).
      await audit(deps, t, 'cap_raise_approved', {
        ...(change ? changeFacts(change) : { change_id: r.change.id }),
        approved_by: r.change.approved_by,
        approved_at: r.change.approved_at,
        authenticated_at: r.change.authenticated_at,
      });
    }
    await audit(deps, t, 'cap_changed', { scope: r.scope, cap: r.cap, previous_cap: r.previous_cap, currency: r.currency, change_id: r.change?.id ?? null });
    return r;
  } catch (err) {
    if (isAgentprovError(err) && err.code !== 'CAP_RAISE_APPROVAL_REQUIRED') {
      await audit(deps, t, 'cap_change_refused', { code: err.code, amount: t.amount, change_id: change?.change_id ?? null, reason: typeof err.details.reason === 'string' ? err.details.reason : null }).catch(() => undefined);
    }
    throw err;
  }
}
