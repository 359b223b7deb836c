/**
 * `agentprov providers add <url>`: fetch the provider's descriptor and
 * catalog now (so a typo or a broken provider is caught at once), refuse an
 * id that another provider already has, and remember the descriptor URL.
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { aggregateCatalogs } from '../../catalog/aggregate.js';
import { removeCacheEntry } from '../../catalog/cache.js';
import { forgetDescriptor } from '../../catalog/descriptor-cache.js';
import { catalogDeadlineMs, resolveRegistry } from '../../catalog/gather.js';
import { addUserProvider } from '../../catalog/manage.js';
import { loadRegistry, normalizeProviderUrl } from '../../catalog/registry.js';
import { NAMED_APP_PROVIDERS } from '../../catalog/builtin/posthog.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown> = {}): Promise<CommandResult> {
  const named = NAMED_APP_PROVIDERS[args[0] ?? ''];
  if (named && (opts.protocol === undefined || opts.protocol === 'app')) {
    // `providers add posthog [--eu]`: its APP base, from the catalog shipped for it.
    const { addAppProvider } = await import('../../catalog/app-manage.js');
    const clientId = typeof opts.clientId === 'string' ? { clientId: opts.clientId } : {};
    return addAppProvider(deps, opts.eu ? named.bases.eu : named.bases.us, { id: typeof opts.id === 'string' ? opts.id : args[0]!, ...clientId, shipped: named.services.length });
  }
  if (opts.protocol !== undefined && opts.protocol !== 'agentprov') {
    if (opts.protocol !== 'app') throw new AgentprovError('USAGE', `unknown --protocol "${String(opts.protocol).slice(0, 20)}" (agentprov or app)`);
    const { addAppProvider } = await import('../../catalog/app-manage.js');
    return addAppProvider(deps, args[0] ?? '', { ...(typeof opts.id === 'string' ? { id: opts.id } : {}), ...(typeof opts.clientId === 'string' ? { clientId: opts.clientId } : {}) });
  }
  const url = normalizeProviderUrl(args[0] ?? '');
  const registry = await loadRegistry({ paths: deps.paths, cwd: deps.cwd });
  const result = await aggregateCatalogs({
    entries: [{ url, source: 'user' }],
    cacheRoot: deps.paths.cache,
    deadlineMs: catalogDeadlineMs(deps.env, registry.config.catalog_deadline_ms),
    refresh: true,
    now: () => deps.clock.now().getTime(),
  });
  const report = result.providers[0]!;
  if (!result.anyAnswered || !report.id) {
    const error = report.error ?? 'no answer';
    const invalid = /invalid|not valid JSON|names provider|not on the descriptor's origin/.test(error);
    throw new AgentprovError(invalid ? 'INVALID_PROVIDER_RESPONSE' : 'PROVIDER_UNREACHABLE', `provider at ${url} failed: ${error}`, {
      details: { url, error },
      nextSteps: ['check the URL: it should serve /.well-known/agent-provisioning'],
    });
  }
  let added: boolean;
  try {
    ({ added } = await addUserProvider(deps.paths, registry, url, report.id));
  } catch (err) {
    removeCacheEntry(deps.paths.cache, url);
    forgetDescriptor(deps.paths.cache, url);
    throw err;
  }
  await resolveRegistry(deps);
  const data = { provider: { id: report.id, name: report.name, url, source: 'user', services: report.services }, added };
  return {
    data,
    warnings: result.warnings,
    nextSteps: [`agentprov catalog ${report.id}`],
    human: `${added ? 'added' : 'already known:'} ${report.id} (${report.name ?? ''}) with ${report.services} services\n  ${url}`,
    bare: report.id,
  };
}
