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
import { ledgerApprovalVerifier } from '../../payment/cap-approval.js';
import { formatMinor, parseMajorAmount } from '../../payment/amount.js';
import { billedByLedger } from '../../payment/ledger-file.js';
import { openRail, railUrl } from '../../payment/rail.js';
import { ledgerFor } from '../../provision/journal.js';
import type { CapResponse, SpendResponse } from '../../wire/rail.js';
import { ProviderId, RAIL_CURRENCY } from '../../wire/rail.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { completeRaise, setCapWithApproval, type BilledBy, type CapSetter, type CapTarget } from '../../payment/cap-raise.js';
import { secondsOption } from '../options.js';

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
  const t: CapTarget = { provider, amount, amountText, billedBy, command };
  const setCap: CapSetter = billedBy === 'provider' ? ledgerSetter(deps) : (await openRail(deps)).setCap;

  return done(opts.complete ? await completeRaise(deps, setCap, t, secondsOption(opts.wait, '--wait', 0)) : await setCapWithApproval(deps, setCap, t), t);
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

function done(r: CapResponse, t: CapTarget): CommandResult {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, r.currency));
  return {
    data: { ...r, billed_by: t.billedBy },
    nextSteps: ['agentprov budget show'],
    human: `${r.scope === 'global' ? 'global cap' : `cap for ${r.provider}`}${t.billedBy === 'provider' ? " (agentprov's ledger)" : ''}: ${m(r.previous_cap)} → ${m(r.cap)} (${t.amountText})`,
  };
}
