/**
 * `agentprov update <name> [--service S] [--config JSON | --param k=v ...]
 * [--yes | --confirm-paid-service] [--max-price A]`: move a resource to
 * another service its current one allows (a plan change), or change its
 * config, where the provider allows it. What happens is
 * src/provision/update.ts; here: the flags, the catalog look-up, the output.
 */
import { gatherCatalog } from '../../catalog/gather.js';
import { AgentprovError } from '../../core/errors.js';
import { paymentFlags } from '../../payment/amount.js';
import { describePrice } from '../../payment/paid.js';
import { findResource, loadManifest, manifestPathFor, resourceNotFound } from '../../project/manifest.js';
import { yesFlags } from '../../provision/add.js';
import { findService, openProvider } from '../../provision/providers.js';
import { checkConfig, invalid, parseConfigInput } from '../../provision/service-config.js';
import { checkAllowed } from '../../provision/steps/update-intend.js';
import { updateOne, type UpdateOutcome } from '../../provision/update.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { configFlags } from './add.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] ?? '';
  const configGiven = opts.config !== undefined || (Array.isArray(opts.param) && opts.param.length > 0);
  if (typeof opts.service !== 'string' && !configGiven) {
    throw new AgentprovError('USAGE', 'say what to change: --service <id> (a plan change) and/or --config <json> | --param k=v', { nextSteps: [`agentprov catalog`] });
  }
  const manifestPath = manifestPathFor(deps);
  const resource = findResource(await loadManifest(manifestPath), name);
  if (!resource) throw resourceNotFound(name, manifestPath);
  const payment = { ...paymentFlags(opts), ...(opts.yes ? { confirmed: true } : {}) };

  const gathered = await gatherCatalog(deps, { refresh: false });
  const current = gathered.services.find((s) => s.provider === resource.provider && s.id === resource.service);
  const targetId = typeof opts.service === 'string' ? opts.service : resource.service;
  // The config carries over unless a new one is given; either way it must fit the target's schema.
  const input = configGiven ? parseConfigInput({ config: opts.config, param: opts.param }) : { config: { ...resource.config }, fromParams: false };
  checkAllowed(resource, current, targetId, input.config);
  const target = findService(gathered, resource.provider, targetId);
  const issues = checkConfig(target, input.config, input.fromParams);
  if (issues.length) throw invalid(issues, `${resource.provider}/${target.id}`);

  const provider = await openProvider(deps, resource.provider, gathered);
  const resume = `agentprov update ${name} --service ${target.id}${configFlags(opts)}${yesFlags({ acceptTos: false, payment })}`;
  const outcome = await updateOne(deps, provider, { resource, current, target, config: input.config, manifestPath, payment, resume });
  return result(outcome, gathered.warnings);
}

function result(o: UpdateOutcome, catalogWarnings: string[]): CommandResult {
  const { warnings, ...data } = o;
  const what = o.from.service === o.service ? `${o.provider}/${o.service} (config)` : `${o.provider}/${o.from.service} → ${o.service}`;
  const lines = o.changed
    ? [
        `${o.resumed ? 'updated (resumed)' : 'updated'}: ${o.name} ${what} (${o.id ?? 'no id'}, ${o.status})`,
        ...(o.charge ? [`  charged: ${describePrice(o.charge)}`] : []),
        ...(o.refund ? [`  refunded: ${describePrice(o.refund)}`] : []),
        `  recorded in ${o.manifest}`,
      ]
    : [`no change: ${o.name} already is ${o.provider}/${o.service} with this config`];
  return { data, warnings: [...catalogWarnings, ...warnings], nextSteps: ['agentprov list'], human: lines.join('\n'), bare: o.service };
}
