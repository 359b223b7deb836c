/**
 * Reading and updating the project manifest (agentprov.json) for add, remove,
 * list and up. Updates are read-modify-write under a cross-process lock, so
 * concurrent agentprov processes in one project never lose each other's
 * resources; writeManifest refuses any text that holds a secret.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withFileLock } from '../util/file-lock.js';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import { emptyManifest, findManifest, MANIFEST_FILE, readManifest, writeManifest, type Manifest, type ManifestResource } from '../project/manifest.js';

/** The project's manifest path: the nearest agentprov.json upward, else one in the working directory (created on first write). */
export function manifestPathFor(deps: Pick<Deps, 'cwd'>): string {
  return findManifest(deps.cwd) ?? join(deps.cwd, MANIFEST_FILE);
}

export async function loadManifest(path: string): Promise<Manifest> {
  return existsSync(path) ? readManifest(path) : emptyManifest();
}

export async function updateManifest<R>(deps: Pick<Deps, 'io'>, path: string, fn: (m: Manifest) => R): Promise<R> {
  return withFileLock(path, { code: 'MANIFEST_LOCKED', what: 'the project manifest' }, async () => {
    const manifest = await loadManifest(path);
    const result = fn(manifest);
    await writeManifest(path, manifest, deps.io.redactor);
    return result;
  });
}

/** Insert or replace the resource with this name. */
export function upsertResource(m: Manifest, r: ManifestResource): void {
  const i = m.resources.findIndex((x) => x.name === r.name);
  if (i >= 0) m.resources[i] = r;
  else m.resources.push(r);
}

export function findResource(m: Manifest, name: string): ManifestResource | undefined {
  return m.resources.find((r) => r.name === name);
}

export function resourceNotFound(name: string, path: string): AgentprovError {
  return new AgentprovError('RESOURCE_NOT_FOUND', `no resource named "${name}" in ${path}`, {
    details: { name, manifest: path },
    nextSteps: ['agentprov list'],
  });
}
