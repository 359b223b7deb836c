/**
 * `agentprov budget [show]` and `agentprov budget set <provider|--global>
 * <amount> [--complete [--wait S]]` (issue 7 item 3).
 *
 * Lowering a cap is immediate. Raising one needs a fresh human sign-in: the
 * rail answers FRESH_AUTHENTICATION_REQUIRED (it checks `auth_time`); on a
 * terminal agentprov signs the human in again (prompt=login, max_age=0) and
 * retries; an agent gets exit 3 FRESH_SIGN_IN_REQUIRED with a device code the
 * human approves with a fresh login, and `budget set ... --complete` finishes.
 * A cached session is never enough: `--complete` without a pending sign-in fails.
 */
import { configuredIssuer } from '../../auth/config.js';
import { completePending, signIn } from '../../auth/signin.js';
import { appendAudit } from '../../audit/log.js';
import { formatMinor, parseMajorAmount } from '../../payment/amount.js';
import { openRail, type RailClient } from '../../payment/rail.js';
import type { CapResponse, SpendResponse } from '../../protocol/rail.js';
import { ProviderId } from '../../protocol/rail.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../errors.js';
import type { CommandResult } from '../output.js';
import { DEFAULT_TIMEOUT_SECONDS, secondsOption } from './login.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const [action = 'show', ...rest] = args.filter((a) => a !== undefined && a !== 'undefined');
  if (action === 'show') {
    if (rest.length) throw new AgentprovError('USAGE', 'budget show takes no arguments');
    return show(await (await openRail(deps)).spend());
  }
  if (action === 'set') return set(deps, rest, opts);
  throw new AgentprovError('USAGE', `unknown budget action "${action.slice(0, 40)}": use budget show or budget set <provider|--global> <amount>`);
}

export function spendData(s: SpendResponse) {
  return {
    month: s.month,
    currency: s.currency,
    global_cap: s.global_cap,
    spent: s.spent,
    held: s.held,
    providers: s.providers.map((p) => ({ ...p })),
  };
}

export function spendTable(s: SpendResponse, providers = s.providers): string {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, s.currency));
  const rows = [['PROVIDER', 'CAP', 'SPENT', 'HELD', 'REMAINING'], ...providers.map((p) => [p.provider, m(p.cap), m(p.spent), m(p.held), m(p.remaining)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  return [`${s.month}: spent ${m(s.spent)}, held ${m(s.held)}; global cap ${m(s.global_cap)}`, ...(providers.length ? lines : ['no spend or caps yet (default cap 100.00 USD per provider)'])].join('\n');
}

function show(s: SpendResponse): CommandResult {
  return { data: spendData(s), nextSteps: [], human: spendTable(s) };
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
  const target = provider ?? '--global';
  const command = `agentprov budget set ${target} ${amountText}`;

  const rail = await openRail(deps);
  if (opts.complete) {
    // The human approved the fresh sign-in started earlier: this makes the new session, then the cap is set with it.
    const session = await completePending(deps, secondsOption(opts.wait, '--wait', 0));
    if (!session) {
      throw new AgentprovError('NO_PENDING_AUTHORIZATION', 'there is no pending fresh sign-in to complete; a cached session cannot raise a cap', { nextSteps: [command] });
    }
    return done(deps, await attempt(deps, rail, provider, amount, command, true), amountText);
  }
  try {
    return done(deps, await attempt(deps, rail, provider, amount, command, false), amountText);
  } catch (err) {
    if (!isAgentprovError(err) || err.code !== 'FRESH_SIGN_IN_REQUIRED') throw err;
    const { issuer, clientId } = await configuredIssuer(deps);
    if (deps.canPrompt()) {
      deps.io.err('Raising a cap needs a fresh sign-in: the identity provider will ask you to sign in again.\n');
      await signIn(deps, { issuer, clientId, fresh: true, openBrowser: deps.env.AGENTPROV_NO_BROWSER !== '1', timeoutSeconds: DEFAULT_TIMEOUT_SECONDS });
      return done(deps, await attempt(deps, rail, provider, amount, command, true), amountText);
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

async function attempt(deps: Deps, rail: RailClient, provider: string | null, amount: number, command: string, afterFreshSignIn: boolean): Promise<CapResponse> {
  try {
    const r = await rail.setCap(provider, amount);
    await appendAudit(deps, { command: 'budget', ...(provider ? { provider } : {}), decision: 'cap_changed', details: { scope: r.scope, cap: r.cap, previous_cap: r.previous_cap, currency: r.currency, fresh_sign_in: afterFreshSignIn } });
    return r;
  } catch (err) {
    if (isAgentprovError(err)) {
      await appendAudit(deps, { command: 'budget', ...(provider ? { provider } : {}), decision: 'cap_change_refused', details: { code: err.code, amount } }).catch(() => undefined);
      if (err.code === 'FRESH_SIGN_IN_REQUIRED' && afterFreshSignIn) {
        throw new AgentprovError('FRESH_SIGN_IN_REQUIRED', 'the payment rail still wants a fresher sign-in; sign in and set the cap within a few minutes', { details: err.details, nextSteps: [command] });
      }
    }
    throw err;
  }
}

function done(_deps: Deps, r: CapResponse, amountText: string): CommandResult {
  const m = (n: number | null) => (n === null ? 'none' : formatMinor(n, r.currency));
  return {
    data: { ...r },
    nextSteps: ['agentprov budget show'],
    human: `${r.scope === 'global' ? 'global cap' : `cap for ${r.provider}`}: ${m(r.previous_cap)} → ${m(r.cap)} (${amountText})`,
  };
}
