/**
 * Filtering and ranking services. `catalog <filter>` keeps services whose
 * provider id or one of whose categories equals the filter (case-folded).
 * `search <query..>` scores each service by where each query term occurs:
 * id > name > category > description; every term must match somewhere.
 */
import type { CatalogService } from './service.js';

export function filterServices(services: CatalogService[], filter: string): CatalogService[] {
  const f = filter.toLowerCase();
  return services.filter((s) => s.provider === f || s.categories.some((c) => c.toLowerCase() === f));
}

const WEIGHTS = { id: 8, name: 5, category: 4, description: 1 } as const;

export function scoreService(s: CatalogService, terms: string[]): number {
  const id = `${s.provider}/${s.id}`.toLowerCase();
  const name = s.name.toLowerCase();
  const cats = s.categories.map((c) => c.toLowerCase());
  const desc = s.description.toLowerCase();
  let total = 0;
  for (const t of terms) {
    let score = 0;
    if (id.includes(t)) score += WEIGHTS.id + (id.split(/[/:-]/).includes(t) ? WEIGHTS.id : 0);
    if (name.includes(t)) score += WEIGHTS.name + (name.split(/\s+/).includes(t) ? WEIGHTS.name : 0);
    if (cats.some((c) => c.includes(t))) score += WEIGHTS.category + (cats.includes(t) ? WEIGHTS.category : 0);
    if (desc.includes(t)) score += WEIGHTS.description;
    if (score === 0) return 0;
    total += score;
  }
  return total;
}

export function searchServices(services: CatalogService[], query: string[]): Array<CatalogService & { score: number }> {
  const terms = query
    .join(' ')
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 20);
  if (terms.length === 0) return [];
  return services
    .map((s) => ({ ...s, score: scoreService(s, terms) }))
    .filter((s) => s.score > 0)
    .sort((a, b) => b.score - a.score || a.provider.localeCompare(b.provider) || a.id.localeCompare(b.id));
}
