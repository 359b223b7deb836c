/**
 * `agentprov up [--accept-tos] [--complete] [--wait S] [--confirm-paid-service]
 * [--max-price A]`: provision every
 * resource of agentprov.json that is not provisioned yet, through the same
 * journaled add flow (one journal slot per manifest entry, so an interrupted
 * `up` resumes with the same Idempotency-Keys and a second run provisions
 * nothing). A step that needs a human (terms, consent, a paid entry without
 * --confirm-paid-service) stops the run with exit 3; a resource the provider
 * refuses, or one priced above --max-price, is reported and the others go on.
 * Paid entries go through the same price limit, caps and payment as `add`.
 *
 * A provider named only by agentprov.json (a cloned project) is sent no
 * credential until the human says yes: `--trust-manifest-providers` (or the
 * prompt on a terminal) registers every such provider, audited; without it
 * the run stops with PROVIDER_NOT_TRUSTED (exit 3) before any request with a
 * credential.
 */
import { existsSync } from 'node:fs';
import { gatherCatalog } from '../../catalog/gather.js';
import { DEFAULT_WAIT_SECONDS, provisionOne, yesFlags, type AddOutcome } from '../../provision/add.js';
import { checkConfig, invalid } from '../../provision/service-config.js';
import { loadManifest, manifestPathFor } from '../../project/manifest.js';
import { findService, openProvider } from '../../provision/providers.js';
import type { Provider } from '../../providers/provider.js';
import type { Deps } from '../deps.js';
import { AgentprovError, EXIT, isAgentprovError, type ErrorCode } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { paymentFlags } from '../../payment/amount.js';
import { secondsOption } from '../options.js';

interface Step {
  name: string;
  provider: string;
  service: string;
  action: 'provisioned' | 'resumed' | 'unchanged' | 'pending' | 'failed';
  id: string | null;
  status: string | null;
  error?: { code: ErrorCode; message: string; next_steps: string[] };
}

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const path = manifestPathFor(deps);
  if (!existsSync(path)) {
    throw new AgentprovError('USAGE', `no agentprov.json here or above ${deps.cwd}`, { nextSteps: ['agentprov init', 'agentprov add <provider>/<service>'] });
  }
  const waitSeconds = secondsOption(opts.wait, '--wait', DEFAULT_WAIT_SECONDS);
  const payment = paymentFlags(opts);
  const resume = `agentprov up${yesFlags({ acceptTos: Boolean(opts.acceptTos), payment })}`;
  const manifest = await loadManifest(path);
  const todo = manifest.resources.filter((r) => !(r.id && r.status === 'active'));
  const trusted = todo.length ? await trustIfAsked(deps, opts) : [];
  const steps: Step[] = manifest.resources
    .filter((r) => r.id && r.status === 'active')
    .map((r) => ({ name: r.name, provider: r.provider, service: r.service, action: 'unchanged', id: r.id ?? null, status: r.status ?? null }));
  const warnings: string[] = [];
  if (todo.length) {
    const gathered = await gatherCatalog(deps, { refresh: false });
    warnings.push(...gathered.warnings);
    const providers = new Map<string, Provider>();
    for (const r of todo) {
      const step: Step = { name: r.name, provider: r.provider, service: r.service, action: 'failed', id: r.id ?? null, status: r.status ?? null };
      steps.push(step);
      try {
        const service = findService(gathered, r.provider, r.service);
        const issues = checkConfig(service, r.config, false);
        if (issues.length) throw invalid(issues, `${r.provider}/${r.service}`);
        let provider = providers.get(r.provider);
        if (!provider) providers.set(r.provider, (provider = await openProvider(deps, r.provider, gathered)));
        const o: AddOutcome = await provisionOne(deps, provider, {
          command: 'up',
          service,
          name: r.name,
          config: r.config,
          manifestPath: path,
          acceptTos: Boolean(opts.acceptTos),
          ...(opts.complete ? { completeWaitSeconds: waitSeconds } : {}),
          waitSeconds,
          resume,
          payment,
        });
        warnings.push(...o.warnings);
        step.id = o.id;
        step.status = o.status;
        step.action = o.status === 'pending' ? 'pending' : o.already_provisioned ? 'unchanged' : o.resumed ? 'resumed' : 'provisioned';
      } catch (err) {
        // A human must act (terms, consent, payment, sign-in): stop here, saying what this run did so far; the rest waits for the same `up`.
        if (!isAgentprovError(err)) throw err;
        if (err.exitCode === EXIT.HUMAN_ACTION) {
          throw new AgentprovError(err.code, err.message, { details: { ...err.details, resources: steps }, nextSteps: err.nextSteps, cause: err });
        }
        step.error = { code: err.code, message: err.message, next_steps: err.nextSteps };
      }
    }
  }
  const failed = steps.filter((s) => s.action === 'failed');
  if (failed.length) {
    const first = failed[0]!.error!;
    // What each failure's own error said to do (budget set, a higher --max-price, ...), then the same up.
    const remedies = [...new Set(failed.flatMap((f) => f.error!.next_steps))];
    throw new AgentprovError(first.code, `${failed.length} of ${steps.length} resources could not be provisioned; first: ${failed[0]!.name}: ${first.message}`, {
      details: { resources: steps },
      nextSteps: [...remedies.filter((r) => r !== resume), resume],
    });
  }
  const done = steps.filter((s) => s.action === 'provisioned' || s.action === 'resumed');
  const pending = steps.filter((s) => s.action === 'pending');
  return {
    data: {
      manifest: path,
      resources: steps,
      provisioned: done.length,
      unchanged: steps.length - done.length - pending.length,
      pending: pending.length,
      trusted_providers: trusted,
    },
    warnings,
    nextSteps: pending.length ? [resume] : [],
    human: steps.length
      ? steps.map((s) => `${s.action.padEnd(11)} ${s.name} (${s.provider}/${s.service}${s.id ? ` ${s.id}` : ''})`).join('\n')
      : `no resources in ${path}`,
  };
}

/**
 * Providers only the manifest names: trusted with `--trust-manifest-providers`,
 * or after a yes on a terminal; otherwise left untrusted (openProvider then
 * refuses them with PROVIDER_NOT_TRUSTED and its next steps). Audited.
 */
async function trustIfAsked(deps: Deps, opts: Record<string, unknown>): Promise<Array<{ url: string; id: string | null }>> {
  const { loadRegistry } = await import('../../catalog/registry.js');
  const untrusted = (await loadRegistry({ paths: deps.paths, cwd: deps.cwd })).entries.filter((e) => e.source === 'manifest');
  if (untrusted.length === 0) return [];
  let yes = Boolean(opts.trustManifestProviders);
  if (!yes && deps.canPrompt()) {
    const list = untrusted.map((e) => `  ${e.id ?? '(id not known yet)'} ${e.url}`).join('\n');
    deps.io.err(`This project's agentprov.json names providers you have not registered:\n${list}\n`);
    yes = await deps.prompter.confirm('Trust them with your credentials (sign-in assertions, payments)?', false);
  }
  if (!yes) return [];
  const { trustManifestProviders } = await import('../../catalog/manage.js');
  const trusted = await trustManifestProviders(deps.paths, deps.cwd);
  const { appendAudit } = await import('../../audit/log.js');
  for (const e of trusted) {
    await appendAudit(deps, { command: 'up', ...(e.id ? { provider: e.id } : {}), decision: 'provider_trusted', details: { url: e.url.slice(0, 1024), source: 'manifest' } });
  }
  const { resolveRegistry } = await import('../../catalog/gather.js');
  await resolveRegistry(deps);
  return trusted.map((e) => ({ url: e.url, id: e.id ?? null }));
}
