/**
 * What `token` and `run` name on the command line: a provider id, or a
 * resource of this project's agentprov.json (which names its provider).
 */
import type { Deps } from '../core/deps.js';
import type { ManifestResource } from '../project/manifest.js';
import { findResource, loadManifest, manifestPathFor, resourceNotFound } from '../project/manifest.js';

/** Resources by name, the manifest read once (RESOURCE_NOT_FOUND for the first unknown name). */
export async function resolveResources(deps: Pick<Deps, 'cwd'>, names: Iterable<string>): Promise<ManifestResource[]> {
  const manifestPath = manifestPathFor(deps);
  const manifest = await loadManifest(manifestPath);
  const out: ManifestResource[] = [];
  for (const name of names) {
    const resource = findResource(manifest, name);
    if (!resource) throw resourceNotFound(name.slice(0, 64), manifestPath);
    out.push(resource);
  }
  return out;
}

/** Names of this project's resources (for `run <target> -- cmd`, where a resource wins over a provider id). */
export async function resourceNames(deps: Pick<Deps, 'cwd'>): Promise<string[]> {
  return (await loadManifest(manifestPathFor(deps))).resources.map((r) => r.name);
}
