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
 * Lowering a cap is immediate. Raising one needs a fresh human sign-in: the
 * rail answers FRESH_AUTHENTICATION_REQUIRED (it checks `auth_time`), the
 * ledger checks the session's ID token `auth_time` the same way; on a
 * terminal agentprov signs the human in again (prompt=login, max_age=0) and
 * retries; an agent gets exit 3 FRESH_SIGN_IN_REQUIRED with a device code the
 * human approves with a fresh login, and `budget set ... --complete` finishes.
 * A cached session is never enough: `--complete` without a pending sign-in fails.
 */
import { configuredIssuer } from '../../auth/orchestrator-config.js';
import { getSession } from '../../auth/session.js';
import { completePending, signIn } from '../../auth/signin.js';
import { appendAudit } from '../../audit/log.js';
import { formatMinor, parseMajorAmount } from '../../payment/amount.js';
import { billedByLedger } from '../../payment/ledger.js';
import { openRail, railUrl } from '../../payment/rail.js';
import { ledgerFor } from '../../provision/journal.js';
import type { CapResponse, SpendResponse } from '../../wire/rail.js';
import { ProviderId, RAIL_CURRENCY } from '../../wire/rail.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { DEFAULT_TIMEOUT_SECONDS, secondsOption } from '../options.js';

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

/** Sets one cap: at the rail or in the ledger. */
type CapSetter = (provider: string | null, amount: number) => Promise<CapResponse>;

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
  const target = provider ?? '--global';
  const command = `agentprov budget set ${target} ${amountText}`;

  const billedBy: BilledBy = provider !== null && billedByLedger(provider) ? 'provider' : 'rail';
  const setCap: CapSetter = billedBy === 'provider' ? ledgerSetter(deps) : (await openRail(deps)).setCap;
  if (opts.complete) {
    // The human approved the fresh sign-in started earlier: this makes the new session, then the cap is set with it.
    const session = await completePending(deps, secondsOption(opts.wait, '--wait', 0));
    if (!session) {
      throw new AgentprovError('NO_PENDING_AUTHORIZATION', 'there is no pending fresh sign-in to complete; a cached session cannot raise a cap', { nextSteps: [command] });
    }
    return done(await attempt(deps, setCap, billedBy, provider, amount, command, true), amountText, billedBy);
  }
  try {
    return done(await attempt(deps, setCap, billedBy, provider, amount, command, false), amountText, billedBy);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'FRESH_SIGN_IN_REQUIRED') throw err;
    const { issuer, clientId } = await configuredIssuer(deps);
    if (deps.canPrompt()) {
      deps.io.err('Raising a cap needs a fresh sign-in: the identity provider will ask you to sign in again.\n');
      await signIn(deps, { issuer, clientId, fresh: true, openBrowser: deps.env.AGENTPROV_NO_BROWSER !== '1', timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
      return done(await attempt(deps, setCap, billedBy, provider, amount, command, true), amountText, billedBy);
    }
    // An agent: start a device sign-in that demands a new login, and hand the human the step.
    try {
      await signIn(deps, { issuer, clientId, method: 'device', fresh: true, openBrowser: false, timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
    } catch (pending) {
      if (isAgentprovError(pending) && pending.code === 'AUTHORIZATION_PENDING') {
        throw new AgentprovError('FRESH_SIGN_IN_REQUIRED', `raising the cap needs a fresh sign-in by the human: open ${String(pending.details.verification_uri)} and enter the code ${String(pending.details.user_code)}, signing in again`, {
          details: { ...pending.details, ...err.details, target, amount },
          nextSteps: [`${command} --complete --wait 120`],
        });
      }
      throw pending;
    }
    throw err; // a device sign-in never completes without a human
  }
}

/** The ledger's cap for a provider it keeps; a raise is checked against the signed-in session's `auth_time`. */
function ledgerSetter(deps: Deps): CapSetter {
  const ledger = ledgerFor(deps);
  const authTime = async (): Promise<number | undefined> => {
    try {
      return (await getSession(deps)).claims.authTime;
    } catch (err) {
      if (isAgentprovError(err) && err.code === 'NOT_SIGNED_IN') return undefined; // no session: a raise needs a (fresh) sign-in
      throw err;
    }
  };
  return (provider, amount) => {
    if (provider === null) throw new AgentprovError('USAGE', 'the spending ledger has no global cap');
    return ledger.setCap(provider, amount, { authTime });
  };
}

async function attempt(deps: Deps, setCap: CapSetter, billedBy: BilledBy, provider: string | null, amount: number, command: string, afterFreshSignIn: boolean): Promise<CapResponse> {
  try {
    const r = await setCap(provider, amount);
    await appendAudit(deps, { command: 'budget', ...(provider ? { provider } : {}), decision: 'cap_changed', details: { scope: r.scope, cap: r.cap, previous_cap: r.previous_cap, currency: r.currency, fresh_sign_in: afterFreshSignIn, billed_by: billedBy } });
    return r;
  } catch (err) {
    if (isAgentprovError(err)) {
      await appendAudit(deps, { command: 'budget', ...(provider ? { provider } : {}), decision: 'cap_change_refused', details: { code: err.code, amount, billed_by: billedBy } }).catch(() => undefined);
      if (err.code === 'FRESH_SIGN_IN_REQUIRED' && afterFreshSignIn) {
        const who = billedBy === 'rail' ? 'the payment rail' : "agentprov's spending ledger";
        throw new AgentprovError('FRESH_SIGN_IN_REQUIRED', `${who} still wants a fresher sign-in; sign in and set the cap within a few minutes`, { details: err.details, nextSteps: [command] });
      }
    }
    throw err;
  }
}

function done(r: CapResponse, amountText: string, billedBy: BilledBy): CommandResult {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, r.currency));
  return {
    data: { ...r, billed_by: billedBy },
    nextSteps: ['agentprov budget show'],
    human: `${r.scope === 'global' ? 'global cap' : `cap for ${r.provider}`}${billedBy === 'provider' ? " (agentprov's ledger)" : ''}: ${m(r.previous_cap)} → ${m(r.cap)} (${amountText})`,
  };
}
