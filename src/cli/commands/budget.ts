/**
 * `agentprov budget [show]` and `agentprov budget set <provider|--global>
 * <amount> [--complete [--wait S]]` (issue 7 item 3, issue 9 §3).
 *
 * Two places keep caps: the orchestrator's payment rail (providers it pays
 * with payment tokens) and agentprov's own ledger (src/payment/ledger.ts,
 * providers that bill a payment method of their own, e.g. Cloudflare).
 * `budget show` lists both, each row saying who bills (`billed_by`: `rail` |
 * `provider`); without a payment rail configured, the ledger's rows alone.
 * `budget set <provider>` goes to the ledger for ledger providers, else to the
 * rail; `--global` is the rail's (the ledger has no global cap, and its
 * spending does not count against the rail's).
 *
 * Lowering a cap is immediate. A raise is applied only with the human's
 * approval of that very change (docs/protocol-auth.md §10): the cap keeper
 * (rail or ledger) answers CAP_RAISE_APPROVAL_REQUIRED with a pending change,
 * agentprov asks the orchestrator's identity provider for a device
 * authorization carrying it (src/payment/cap-approval.ts), the human signs in
 * on the approval page and approves what it says (target, old and new cap),
 * and the approval token goes back to the cap keeper, which applies exactly
 * that change, once. On a terminal agentprov shows the code, opens the
 * browser and waits; an agent gets exit 3 CAP_RAISE_APPROVAL_REQUIRED with
 * the code, the old and new cap, and `budget set … --complete` to finish.
 * A session is never enough: `--complete` without a pending approval fails.
 * The audit log records the request, the approval (who, when, what) and the
 * change, or the denial, expiry or refusal; never a token.
 */
import { getSession } from '../../auth/session.js';
import { appendAudit } from '../../audit/log.js';
import { describeAmount, describeTarget, GLOBAL_CAP, PendingCapChange } from '../../wire/cap-approval.js';
import { discoverIssuer } from '../../auth/issuer.js';
import {
  ledgerApprovalVerifier,
  PENDING_CAP_ENTRY,
  pendingOf,
  pendingRaiseEntry,
  pollApproval,
  readPendingRaise,
  startApproval,
  type StoredPendingRaise,
} from '../../payment/cap-approval.js';
import { formatMinor, parseMajorAmount } from '../../payment/amount.js';
import { billedByLedger } from '../../payment/ledger.js';
import { openRail, railUrl } from '../../payment/rail.js';
import { ledgerFor } from '../../provision/journal.js';
import type { CapResponse, SpendResponse } from '../../wire/rail.js';
import { ProviderId, RAIL_CURRENCY } from '../../wire/rail.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { secondsOption } from '../options.js';

export type BilledBy = 'rail' | 'provider';

export interface SpendRow {
  provider: string;
  cap: number;
  spent: number;
  held: number;
  remaining: number;
  /** Who takes the money: the payment rail, or the provider itself (cap kept by agentprov's ledger). */
  billed_by: BilledBy;
}

export interface SpendView {
  month: string;
  currency: string;
  /** The rail's global cap (rail-billed providers only); null without one or without a rail. */
  global_cap: number | null;
  /** Totals over every row. */
  spent: number;
  held: number;
  /** The rail's totals (what its global cap counts), or null when no payment rail is configured. */
  rail: { spent: number; held: number } | null;
  /** agentprov's ledger's totals. */
  ledger: { spent: number; held: number };
  providers: SpendRow[];
}

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const [action = 'show', ...rest] = args;
  if (action === 'show') {
    if (rest.length) throw new AgentprovError('USAGE', 'budget show takes no arguments');
    const view = await spendView(deps);
    return { data: view, nextSteps: [], human: spendTable(view) };
  }
  if (action === 'set') return set(deps, rest, opts);
  throw new AgentprovError('USAGE', `unknown budget action "${action.slice(0, 40)}": use budget show or budget set <provider|--global> <amount>`);
}

/** Is a payment rail configured? (No orchestrator, or one without a rail: no.) */
async function haveRail(deps: Deps): Promise<boolean> {
  try {
    await railUrl(deps);
    return true;
  } catch (err) {
    if (isAgentprovError(err) && (err.code === 'PAYMENT_RAIL_NOT_CONFIGURED' || err.code === 'NOT_SIGNED_IN')) return false;
    throw err;
  }
}

/** The rail's view (when one is configured) and the ledger's, side by side. */
export async function spendView(deps: Deps): Promise<SpendView> {
  const rail: SpendResponse | undefined = (await haveRail(deps)) ? await (await openRail(deps)).spend() : undefined;
  const ledger = await ledgerFor(deps).spend();
  const rows: SpendRow[] = [
    ...(rail?.providers ?? []).map((p) => ({ ...p, billed_by: 'rail' as const })),
    ...ledger.providers.map((p) => ({ ...p, billed_by: 'provider' as const })),
  ].sort((a, b) => a.provider.localeCompare(b.provider) || a.billed_by.localeCompare(b.billed_by));
  return {
    month: rail?.month ?? ledger.month,
    currency: rail?.currency ?? RAIL_CURRENCY,
    global_cap: rail?.global_cap ?? null,
    spent: (rail?.spent ?? 0) + ledger.spent,
    held: (rail?.held ?? 0) + ledger.held,
    rail: rail ? { spent: rail.spent, held: rail.held } : null,
    ledger: { spent: ledger.spent, held: ledger.held },
    providers: rows,
  };
}

export function spendTable(s: SpendView, providers = s.providers): string {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, s.currency));
  const rows = [['PROVIDER', 'BILLED BY', 'CAP', 'SPENT', 'HELD', 'REMAINING'], ...providers.map((p) => [p.provider, p.billed_by === 'rail' ? 'payment rail' : p.provider, m(p.cap), m(p.spent), m(p.held), m(p.remaining)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  const head = s.rail
    ? `${s.month}: spent ${m(s.spent)}, held ${m(s.held)}; global cap ${m(s.global_cap)} (payment rail only)`
    : `${s.month}: spent ${m(s.spent)}, held ${m(s.held)}; no payment rail configured (caps of providers that bill their own payment method only)`;
  return [head, ...(providers.length ? lines : ['no spend or caps yet (default cap 100.00 USD per provider)'])].join('\n');
}

/** Sets one cap: at the rail or in the ledger; a raise with the approval token of its pending change. */
type CapSetter = (provider: string | null, amount: number, approval?: string) => Promise<CapResponse>;

interface Target {
  provider: string | null;
  amount: number;
  amountText: string;
  billedBy: BilledBy;
  command: string;
}

async function set(deps: Deps, rest: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const global = Boolean(opts.global);
  const [first, second] = rest;
  const amountText = global ? first : second;
  if (amountText === undefined || (global ? rest.length !== 1 : rest.length !== 2)) {
    throw new AgentprovError('USAGE', 'usage: agentprov budget set <provider|--global> <amount>');
  }
  const provider = global ? null : first!;
  if (provider !== null && !ProviderId.safeParse(provider).success) throw new AgentprovError('USAGE', `not a provider id: "${provider.slice(0, 64)}"`);
  const amount = parseMajorAmount(amountText, 'amount');
  const command = `agentprov budget set ${provider ?? '--global'} ${amountText}`;
  const billedBy: BilledBy = provider !== null && billedByLedger(provider) ? 'provider' : 'rail';
  const t: Target = { provider, amount, amountText, billedBy, command };
  const setCap: CapSetter = billedBy === 'provider' ? ledgerSetter(deps) : (await openRail(deps)).setCap;

  if (opts.complete) return complete(deps, setCap, t, secondsOption(opts.wait, '--wait', 0));
  try {
    return done(await apply(deps, setCap, t), t);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'CAP_RAISE_APPROVAL_REQUIRED') throw err;
    const change = PendingCapChange.parse(err.details);
    await audit(deps, t, 'cap_raise_requested', { ...changeFacts(change) });
    const started = await startApproval(deps, change);
    const stored = pendingRaiseEntry(started.pending, change, billedBy);
    if (!deps.canPrompt()) {
      await (await deps.vault()).set(PENDING_CAP_ENTRY, stored);
      throw approvalRequired(stored, t);
    }
    // A human at a terminal: show the change and the code, open the browser, wait for the decision.
    deps.io.err(`${describeChange(change)} needs your approval: open ${stored.verification_uri} and enter the code ${stored.user_code}, sign in again and approve it.\n`);
    if (deps.env.AGENTPROV_NO_BROWSER !== '1' && (await deps.browser.open(stored.verification_uri_complete ?? stored.verification_uri))) deps.io.err('Opened your browser.\n');
    return done(await approveAndApply(deps, setCap, t, stored, stored.expires_at - nowSeconds(deps), started.config), t);
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

function approvalRequired(p: StoredPendingRaise, t: Target): AgentprovError {
  const c = p.change;
  return new AgentprovError('CAP_RAISE_APPROVAL_REQUIRED', `${describeChange(c)} needs the human's approval: open ${p.verification_uri} and enter the code ${p.user_code}, sign in and approve it; the cap is unchanged until then`, {
    details: {
      verification_uri: p.verification_uri,
      verification_uri_complete: p.verification_uri_complete ?? null,
      user_code: p.user_code,
      expires_at: new Date(p.expires_at * 1000).toISOString(),
      interval: p.interval,
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
async function complete(deps: Deps, setCap: CapSetter, t: Target, wait: number): Promise<CommandResult> {
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
  return done(await approveAndApply(deps, setCap, t, stored, wait), t);
}

/** Polls the approval; once approved, presents it to the cap keeper. Denied or expired: the pending approval is dropped, the cap unchanged. */
async function approveAndApply(deps: Deps, setCap: CapSetter, t: Target, stored: StoredPendingRaise, wait: number, known?: Awaited<ReturnType<typeof discoverIssuer>>): Promise<CapResponse> {
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

/** The ledger's cap for a provider it keeps; a raise is verified against the identity provider's keys and matched to its pending change. */
function ledgerSetter(deps: Deps): CapSetter {
  const ledger = ledgerFor(deps);
  const subject = async (): Promise<string> => (await getSession(deps)).claims.subject;
  const verify = ledgerApprovalVerifier(deps);
  return (provider, amount, approval) => {
    if (provider === null) throw new AgentprovError('USAGE', 'the spending ledger has no global cap');
    return ledger.setCap(provider, amount, { subject, ...(approval !== undefined ? { approval: { token: approval, verify } } : {}) });
  };
}

async function audit(deps: Deps, t: Target, decision: string, details: Record<string, string | number | boolean | null>): Promise<void> {
  await appendAudit(deps, { command: 'budget', ...(t.provider ? { provider: t.provider } : {}), decision, details: { ...details, billed_by: t.billedBy } });
}

async function apply(deps: Deps, setCap: CapSetter, t: Target, approval?: string, change?: PendingCapChange): Promise<CapResponse> {
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

function done(r: CapResponse, t: Target): CommandResult {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, r.currency));
  return {
    data: { ...r, billed_by: t.billedBy },
    nextSteps: ['agentprov budget show'],
    human: `${r.scope === 'global' ? 'global cap' : `cap for ${r.provider}`}${t.billedBy === 'provider' ? " (agentprov's ledger)" : ''}: ${m(r.previous_cap)} → ${m(r.cap)} (${t.amountText})`,
  };
}
