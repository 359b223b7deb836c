/** `agentprov spend [--provider P]`: this month's spend and holds against the caps, from the payment rail. */
import { openRail } from '../../payment/rail.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { spendData, spendTable } from './budget.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const s = await (await openRail(deps)).spend();
  const only = typeof opts.provider === 'string' ? opts.provider : undefined;
  const providers = only ? s.providers.filter((p) => p.provider === only) : s.providers;
  const data = { ...spendData(s), providers: providers.map((p) => ({ ...p })) };
  return { data, nextSteps: [], human: spendTable(s, providers) };
}
