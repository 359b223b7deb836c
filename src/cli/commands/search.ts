/**
 * `agentprov search <query..>`: services of every provider ranked by how
 * well the query matches their id, name, category and description.
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { gatherCatalog } from '../../catalog/gather.js';
import { qualifiedId, renderTable, renderTsv } from '../../catalog/render.js';
import { searchServices } from '../../catalog/search.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const query = args.join(' ').trim();
  if (!query) throw new AgentprovError('USAGE', 'search needs a query', { nextSteps: ['agentprov search domain'] });
  if (query.length > 500) throw new AgentprovError('USAGE', 'the query is longer than 500 characters');
  const gathered = await gatherCatalog(deps, { refresh: Boolean(opts.refresh) });
  const services = searchServices(gathered.services, args);
  const warnings = [...gathered.warnings];
  if (services.length === 0) warnings.push(`nothing matches "${query}"`);
  return {
    data: { query, services, providers: gathered.providers },
    warnings,
    nextSteps: services.length ? [`agentprov catalog ${qualifiedId(services[0]!)}`] : ['agentprov catalog'],
    // Getters: rendered only when printed, never under --json.
    get human() {
      return services.length ? renderTable(services, deps.io.columns) : 'no matches';
    },
    get bare() {
      return renderTsv(services);
    },
  };
}
