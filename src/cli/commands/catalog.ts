/**
 * `agentprov catalog [filter] [--refresh] [--compact]` lists every known
 * provider's services; `agentprov catalog <provider>/<service>` shows one in
 * full (config schema, price, env-var names).
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { gatherCatalog } from '../../catalog/gather.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const filter = args[0]?.trim();
  const refresh = Boolean(opts.refresh);
  const gathered = await gatherCatalog(deps, { refresh });
  const { warnings, providers } = gathered;

  if (!filter && !opts.compact && deps.globals.json) {
    // What an agent runs most (issue 5's warm targets): the services are
    // copied from the cache as they were written, never parsed, and nothing
    // that renders text for a terminal is loaded.
    const first = gathered.firstService();
    return {
      get data() {
        return { services: gathered.services, providers };
      },
      dataJson: () => `{"services":${gathered.servicesJson()},"providers":${JSON.stringify(providers)}}`,
      warnings,
      nextSteps: gathered.nextSteps.length ? gathered.nextSteps : first ? [`agentprov catalog ${first.provider}/${first.id}`] : [],
    };
  }
  const [{ COMPACT_LEGEND, renderCompact, renderService, renderTable, renderTsv, qualifiedId }, { filterServices }, { sanitizeLine }] = await Promise.all([
    import('../../catalog/render.js'),
    import('../../catalog/search.js'),
    import('../../util/sanitize.js'),
  ]);

  if (filter && filter.includes('/')) {
    const [providerId, serviceId] = filter.split('/', 2) as [string, string];
    const service = gathered.services.find((s) => s.provider === providerId && s.id === serviceId);
    if (!service) {
      const known = providers.some((p) => p.id === providerId && p.status !== 'failed' && p.status !== 'skipped');
      throw new AgentprovError('SERVICE_NOT_FOUND', `no service "${sanitizeLine(filter)}"${known ? '' : ` (provider "${sanitizeLine(providerId)}" is not known or did not answer)`}`, {
        details: { provider: providerId, service: serviceId, warnings },
        nextSteps: [known ? `agentprov catalog ${providerId}` : 'agentprov catalog', `agentprov search ${serviceId.split(':')[0] ?? serviceId}`],
      });
    }
    return {
      data: { service, providers },
      warnings,
      nextSteps: [`agentprov add ${qualifiedId(service)}`],
      human: renderService(service),
      bare: renderService(service),
    };
  }

  const services = filter ? filterServices(gathered.services, filter) : gathered.services;
  if (filter && services.length === 0) warnings.push(`no provider id or category matches "${sanitizeLine(filter)}"`);

  if (opts.compact) {
    const lines = renderCompact(services);
    return {
      data: { compact: lines, legend: COMPACT_LEGEND, count: services.length, providers: providers.map((p) => ({ id: p.id, status: p.status })) },
      warnings,
      nextSteps: gathered.nextSteps,
      human: lines,
      bare: lines,
    };
  }
  // Getters: the table and the TSV are rendered only when printed, never under --json.
  return {
    data: { services, providers },
    warnings,
    nextSteps: gathered.nextSteps.length ? gathered.nextSteps : services.length ? [`agentprov catalog ${qualifiedId(services[0]!)}`] : [],
    get human() {
      return services.length ? renderTable(services, deps.io.columns) : 'no services';
    },
    get bare() {
      return renderTsv(services);
    },
  };
}
