/**
 * `agentprov llm-context [provider]`: what an agent needs in its context to
 * use agentprov, in few tokens: the compact guidance (src/project/guidance.ts,
 * the text of the skill and AGENTS.md) and the compact catalog (the same
 * lines as `catalog --compact`) of the current providers, or of one.
 */
import { gatherCatalog } from '../../catalog/gather.js';
import { COMPACT_LEGEND, renderCompact } from '../../catalog/render.js';
import { filterServices } from '../../catalog/search.js';
import { COMPACT_GUIDANCE } from '../../project/guidance.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const filter = args[0]?.trim();
  const gathered = await gatherCatalog(deps, { refresh: Boolean(opts.refresh) });
  const services = filter ? filterServices(gathered.services, filter) : gathered.services;
  const warnings = [...gathered.warnings];
  if (filter && services.length === 0) warnings.push(`no provider id or category matches "${filter.slice(0, 80)}"`);
  const catalog = renderCompact(services);
  const text = `# agentprov\n${COMPACT_GUIDANCE}\n\n# catalog (${COMPACT_LEGEND})\n${catalog || '(no services: agentprov init, or agentprov providers add <url>)'}\n`;
  return {
    data: { guidance: COMPACT_GUIDANCE, legend: COMPACT_LEGEND, catalog, count: services.length, text },
    warnings,
    nextSteps: gathered.nextSteps,
    human: text,
    bare: text,
  };
}
