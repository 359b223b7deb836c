/**
 * `agentprov spend [--provider P]`: this month's spend and holds against the
 * caps, from the payment rail (when one is configured) and from agentprov's
 * own ledger (providers that bill their own payment method), each row saying
 * who bills. See budget.ts.
 */
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { spendTable, spendView } from './budget.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const view = await spendView(deps);
  const only = typeof opts.provider === 'string' ? opts.provider : undefined;
  const providers = only ? view.providers.filter((p) => p.provider === only) : view.providers;
  const data = { ...view, providers: providers.map((p) => ({ ...p })) };
  return { data, nextSteps: [], human: spendTable(view, providers) };
}
