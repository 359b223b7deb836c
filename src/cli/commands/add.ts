/**
 * `agentprov add <provider>/<service> [--config JSON | --param k=v ...]
 * [--name NAME] [--accept-tos] [--preflight] [--complete] [--wait S]`:
 * resolve the service, validate the config, authorize at the provider
 * (terms and consent when needed), provision idempotently through the
 * journal, record the resource in agentprov.json. See src/provision/add.ts.
 */
import { readSession } from '../../auth/store.js';
import { gatherCatalog } from '../../catalog/gather.js';
import { formatPrice } from '../../catalog/render.js';
import { DEFAULT_WAIT_SECONDS, defaultName, nameInUse, provisionOne, sameConfig, yesFlags, type AddOutcome } from '../../provision/add.js';
import { checkConfig, invalid, parseConfigInput } from '../../provision/service-config.js';
import { isUnfinished, listJournal } from '../../provision/journal.js';
import { findResource, loadManifest, manifestPathFor } from '../../project/manifest.js';
import { findService, openProvider, parseQualified } from '../../provision/providers.js';
import { builtinFor } from '../../providers/builtin.js';
import { ResourceNameSchema } from '../../wire/provider.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { Blocker, CommandResult } from '../output.js';
import { secondsOption } from '../options.js';
import { paymentFlags } from '../../payment/amount.js';
import { externalPrice, upfrontPrice, describePrice } from '../../payment/paid.js';
import { checkLedgerSpend } from '../../payment/ledger-file.js';
import { ledgerFor } from '../../provision/journal.js';
import type { Provider } from '../../providers/provider.js';
import { checkSpend, openRail } from '../../payment/rail.js';

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const { provider: providerId, service: serviceId } = parseQualified(args[0] ?? '');
  const input = parseConfigInput({ config: opts.config, param: opts.param });
  const explicitName = typeof opts.name === 'string' ? opts.name : undefined;
  if (explicitName !== undefined && !(NAME.test(explicitName) && ResourceNameSchema.safeParse(explicitName).success)) {
    throw new AgentprovError('USAGE', `--name must be lowercase letters, digits and dashes (at most 63), not "${explicitName.slice(0, 80)}"`);
  }
  const manifestPath = manifestPathFor(deps);
  const payment = paymentFlags(opts);
  if (opts.preflight) return preflight(deps, { providerId, serviceId, input, explicitName, manifestPath, acceptTos: Boolean(opts.acceptTos), payment });

  const waitSeconds = secondsOption(opts.wait, '--wait', DEFAULT_WAIT_SECONDS);
  const gathered = await gatherCatalog(deps, { refresh: false });
  const service = findService(gathered, providerId, serviceId);
  const issues = checkConfig(service, input.config, input.fromParams);
  if (issues.length) throw invalid(issues, `${providerId}/${serviceId}`);
  const name = explicitName ?? (await defaultName(deps, manifestPath, service, (await listJournal(deps.paths.state)).filter(isUnfinished)));
  const provider = await openProvider(deps, providerId, gathered);
  const resume = `agentprov add ${providerId}/${serviceId} --name ${name}${configFlags(opts)}${yesFlags({ acceptTos: Boolean(opts.acceptTos), payment })}`;
  const outcome = await provisionOne(deps, provider, {
    command: 'add',
    service,
    name,
    config: input.config,
    manifestPath,
    acceptTos: Boolean(opts.acceptTos),
    ...(opts.complete ? { completeWaitSeconds: waitSeconds } : {}),
    waitSeconds,
    resume,
    payment,
  });
  return result(outcome, resume, gathered.warnings);
}

/** The config flags as given, for a resume command (config is not secret: it goes to the manifest too). */
export function configFlags(opts: Record<string, unknown>): string {
  if (typeof opts.config === 'string') return ` --config '${opts.config.replace(/'/g, `'\\''`)}'`;
  const params = Array.isArray(opts.param) ? opts.param.map(String) : [];
  return params.map((p) => ` --param '${p.replace(/'/g, `'\\''`)}'`).join('');
}

function result(o: AddOutcome, resume: string, catalogWarnings: string[]): CommandResult {
  const { warnings, ...data } = o;
  const pending = o.status === 'pending';
  const lines = pending
    ? [`${o.name}: ${o.provider}/${o.service} is still pending (${o.id})`, `  resume with: ${resume}`]
    : [
        `${o.already_provisioned ? 'already provisioned' : o.resumed ? 'provisioned (resumed)' : 'provisioned'}: ${o.name} = ${o.provider}/${o.service} (${o.id}, ${o.status})`,
        o.env.length ? `  agentprov run provides: ${o.env.join(', ')}` : '  no environment variables for agentprov run',
        ...(o.charge ? [`  charged: ${describePrice(o.charge)}`] : []),
        `  recorded in ${o.manifest}`,
      ];
  return {
    data,
    warnings: [...catalogWarnings, ...warnings],
    nextSteps: pending ? [resume] : ['agentprov list'],
    human: lines.join('\n'),
    bare: o.id,
  };
}

/** Every blocker at once, each with a code and a remedy. Writes nothing. */
async function preflight(
  deps: Deps,
  p: { providerId: string; serviceId: string; input: ReturnType<typeof parseConfigInput>; explicitName: string | undefined; manifestPath: string; acceptTos: boolean; payment: { confirmed: boolean; maxPrice?: number } },
): Promise<CommandResult> {
  const blockers: Blocker[] = [];
  const push = (err: unknown, remedy: string): void => {
    const e = isAgentprovError(err) ? err : new AgentprovError('INTERNAL', (err as Error)?.message ?? String(err));
    blockers.push({ code: e.code, message: e.message, remedy: e.nextSteps[0] ?? remedy });
  };
  const qualified = `${p.providerId}/${p.serviceId}`;
  let signedIn = false;
  try {
    signedIn = Boolean(await readSession(await deps.vault()));
    if (!signedIn) blockers.push({ code: 'NOT_SIGNED_IN', message: 'no session in the vault', remedy: 'agentprov login' });
  } catch (err) {
    push(err, 'agentprov vault status');
  }
  let gathered;
  let service;
  try {
    gathered = await gatherCatalog(deps, { refresh: false });
    service = findService(gathered, p.providerId, p.serviceId);
  } catch (err) {
    push(err, 'agentprov catalog');
  }
  if (service) {
    try {
      const issues = checkConfig(service, p.input.config, p.input.fromParams);
      if (issues.length) push(invalid(issues, qualified), `agentprov catalog ${qualified}`);
    } catch (err) {
      push(err, `agentprov catalog ${qualified}`);
    }
  }
  if (p.explicitName) {
    try {
      const existing = findResource(await loadManifest(p.manifestPath), p.explicitName);
      if (existing && (existing.provider !== p.providerId || existing.service !== p.serviceId)) {
        push(nameInUse(p.explicitName, `already names ${existing.provider}/${existing.service}`, p.manifestPath), 'choose another --name');
      } else if (existing?.status === 'active' && !sameConfig(existing.config, p.input.config)) {
        push(nameInUse(p.explicitName, 'is already provisioned with a different config', p.manifestPath), 'choose another --name');
      }
    } catch (err) {
      push(err, `fix ${p.manifestPath}`);
    }
  }
  let provider: Provider | undefined;
  if (signedIn && service && gathered) {
    try {
      provider = await openProvider(deps, p.providerId, gathered);
      await provider.authorize({ acceptTerms: p.acceptTos, interactive: false, preflight: true });
    } catch (err) {
      const remedy =
        isAgentprovError(err) && err.code === 'TERMS_ACCEPTANCE_REQUIRED'
          ? `agentprov add ${qualified} --accept-tos (after reading the terms)`
          : isAgentprovError(err) && err.code === 'CONSENT_REQUIRED'
            ? `agentprov add ${qualified}, then approve at the provider and re-run with --complete`
            : 'agentprov providers list';
      if (isAgentprovError(err)) blockers.push({ code: err.code, message: err.message, remedy: err.code === 'TERMS_ACCEPTANCE_REQUIRED' || err.code === 'CONSENT_REQUIRED' ? remedy : (err.nextSteps[0] ?? remedy) });
      else push(err, remedy);
      provider = undefined;
    }
  }
  // Paid: the price limit, the caps as they stand now, the human's yes. A provider billing its own
  // payment method (Cloudflare) quotes now (a read-only availability check) and its cap is agentprov's ledger.
  let upfront: (ReturnType<typeof upfrontPrice> & { description?: string }) | undefined;
  // Who bills: the provider when it could be opened, else what the built-in record says (Cloudflare not linked yet).
  const external = provider ? provider.billing === 'external' : gathered !== undefined && builtinFor(gathered.providers, p.providerId)?.billing === 'external';
  if (service && external && provider?.quote) {
    try {
      upfront = externalPrice(service, await provider.quote({ service: p.serviceId, name: p.explicitName ?? service.id, config: p.input.config }));
    } catch (err) {
      push(err, `agentprov catalog ${qualified}`);
    }
  } else if (service) {
    upfront = upfrontPrice(service);
  }
  if (upfront) {
    if (p.payment.maxPrice !== undefined && upfront.amount > p.payment.maxPrice) {
      blockers.push({ code: 'PRICE_ABOVE_LIMIT', message: `${qualified} costs ${describePrice(upfront)}, above --max-price`, remedy: 'raise --max-price or choose another service' });
    }
    if (signedIn) {
      try {
        const refusal = external
          ? checkLedgerSpend(await ledgerFor(deps).spend({ readOnly: true }), p.providerId, upfront.amount)
          : checkSpend(await (await openRail(deps)).spend(), p.providerId, upfront.amount);
        if (refusal) blockers.push({ code: refusal.code, message: refusal.message, remedy: refusal.nextSteps[0] ?? 'agentprov budget show' });
      } catch (err) {
        push(err, 'agentprov spend');
      }
    }
    if (!p.payment.confirmed) {
      blockers.push({ code: 'PAID_CONFIRMATION_REQUIRED', message: `${qualified} costs ${describePrice(upfront)}${upfront.description ? ` (${upfront.description})` : ''}`, remedy: `agentprov add ${qualified} --confirm-paid-service (a human's yes)` });
    }
  }
  const price = service ? formatPrice(service.pricing) : null;
  return {
    data: { ready: blockers.length === 0, blockers, service: service ? qualified : null, price, signed_in: signedIn },
    nextSteps: blockers.map((b) => b.remedy),
    human: blockers.length === 0 ? `ready: nothing blocks agentprov add ${qualified}` : ['blockers:', ...blockers.map((b) => `  [${b.code}] ${b.message}\n      → ${b.remedy}`)].join('\n'),
  };
}
