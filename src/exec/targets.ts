/**
 * What `token` and `run` name on the command line: a provider id, or a
 * resource of this project's agentprov.json (which names its provider).
 */
import type { Deps } from '../cli/deps.js';
import { AgentprovError } from '../cli/errors.js';
import type { ManifestResource } from '../project/manifest.js';
import { findResource, loadManifest, manifestPathFor } from '../provision/manifest.js';

export interface ResolvedResource {
  resource: ManifestResource;
  manifestPath: string;
}

/** A resource by name (RESOURCE_NOT_FOUND otherwise). */
export async function resolveResource(deps: Pick<Deps, 'cwd'>, name: string): Promise<ResolvedResource> {
  const manifestPath = manifestPathFor(deps);
  const resource = findResource(await loadManifest(manifestPath), name);
  if (!resource) {
    throw new AgentprovError('RESOURCE_NOT_FOUND', `no resource named "${name.slice(0, 64)}" in ${manifestPath}`, {
      details: { name: name.slice(0, 64), manifest: manifestPath },
      nextSteps: ['agentprov list'],
    });
  }
  return { resource, manifestPath };
}

/** `token <provider|resource>`: a resource of the project wins over a provider id of the same name. */
export async function providerOf(deps: Pick<Deps, 'cwd'>, target: string): Promise<{ provider: string; resource?: string }> {
  const resource = findResource(await loadManifest(manifestPathFor(deps)), target);
  return resource ? { provider: resource.provider, resource: resource.name } : { provider: target };
}

/** Names of this project's resources (for `run <target> -- cmd`, where a resource wins over a provider id). */
export async function resourceNames(deps: Pick<Deps, 'cwd'>): Promise<string[]> {
  return (await loadManifest(manifestPathFor(deps))).resources.map((r) => r.name);
}
