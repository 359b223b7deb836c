/**
 * What `run` will inject: for each named resource, its service's `env` map
 * (catalog) resolved against the provider's provision and one short-lived
 * credential per provider; for each named provider, the names its services
 * map to the access token or the account id.
 */
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { Gathered } from '../catalog/gather.js';
import type { CatalogService } from '../catalog/service.js';
import type { ManifestResource } from '../project/manifest.js';
import { prefixed } from './env.js';
import { resolveResources } from './targets.js';

/** Where an env value comes from, per the catalog: `access_token`, `account_id`, `resource.<attr>`. */
export type EnvSource = string;

export interface EnvBinding {
  name: string;
  provider: string;
  resource?: string;
  source: EnvSource;
}

export interface RunPlan {
  /** Provider id → scopes to ask for (empty: the grant's own). */
  providers: Map<string, string[]>;
  resources: ManifestResource[];
  bindings: EnvBinding[];
  /** Every env name the providers in play declare (stripped from the inherited env). */
  strip: Set<string>;
}

export async function planRun(deps: Deps, gathered: Gathered, resourceNames: string[], providerIds: string[]): Promise<RunPlan> {
  const providers = new Map<string, Set<string>>();
  const providerOnly = new Set<string>();
  const resources = await resolveResources(deps, new Set(resourceNames));
  for (const id of new Set(providerIds)) {
    if (!gathered.providers.some((p) => p.id === id && p.status !== 'skipped')) {
      throw new AgentprovError('PROVIDER_NOT_FOUND', `no known provider "${id.slice(0, 64)}"`, {
        details: { provider: id.slice(0, 64) },
        nextSteps: ['agentprov providers list'],
      });
    }
    providerOnly.add(id);
  }

  const serviceOf = (r: ManifestResource): CatalogService => {
    const s = gathered.services.find((x) => x.provider === r.provider && x.id === r.service);
    if (!s) {
      throw new AgentprovError('SERVICE_NOT_FOUND', `the catalog of ${r.provider} no longer lists ${r.service} (resource "${r.name}")`, {
        details: { provider: r.provider, service: r.service, resource: r.name },
        nextSteps: [`agentprov catalog ${r.provider} --refresh`],
      });
    }
    return s;
  };

  const bindings: EnvBinding[] = [];
  const perService = new Map<string, number>();
  for (const r of resources) perService.set(`${r.provider}/${r.service}`, (perService.get(`${r.provider}/${r.service}`) ?? 0) + 1);
  for (const r of resources) {
    if (!r.id) {
      throw new AgentprovError('RESOURCE_NOT_FOUND', `resource "${r.name}" is not provisioned yet`, { details: { resource: r.name }, nextSteps: ['agentprov up'] });
    }
    const s = serviceOf(r);
    const twice = (perService.get(`${r.provider}/${r.service}`) ?? 0) > 1;
    for (const [name, source] of Object.entries(s.env)) {
      bindings.push({ name: twice ? prefixed(r.name, name) : name, provider: r.provider, resource: r.name, source });
    }
    if (Object.values(s.env).includes('access_token')) {
      const scopes = providers.get(r.provider) ?? new Set<string>();
      // The child gets what the service needs, not the right to provision.
      for (const sc of s.scopes) if (sc !== 'provision') scopes.add(sc);
      providers.set(r.provider, scopes);
    }
  }
  for (const id of providerOnly) {
    // A named provider: its whole grant (no down-scoping), under the names its services use for the token and account.
    providers.set(id, new Set());
    const seen = new Set(bindings.map((b) => b.name));
    for (const s of gathered.services.filter((x) => x.provider === id)) {
      for (const [name, source] of Object.entries(s.env)) {
        if ((source === 'access_token' || source === 'account_id') && !seen.has(name)) {
          seen.add(name);
          bindings.push({ name, provider: id, source });
        }
      }
    }
  }
  const strip = new Set<string>();
  const inPlay = new Set([...providers.keys(), ...resources.map((r) => r.provider)]);
  for (const s of gathered.services) if (inPlay.has(s.provider)) for (const name of Object.keys(s.env)) strip.add(name);

  return { providers: new Map([...providers].map(([k, v]) => [k, [...v].sort()])), resources, bindings, strip };
}
