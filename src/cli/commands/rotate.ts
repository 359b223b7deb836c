/**
 * `agentprov rotate <name>`: new long-lived credentials from the resource's
 * provider; the old ones are revoked (Provider.rotate). Nothing is printed
 * but the fact: credentials stay in the vault.
 */
import { audit } from '../../provision/audit.js';
import { findResource, loadManifest, manifestPathFor, resourceNotFound } from '../../project/manifest.js';
import { openProvider } from '../../provision/providers.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[]): Promise<CommandResult> {
  const name = args[0] ?? '';
  const path = manifestPathFor(deps);
  const resource = findResource(await loadManifest(path), name);
  if (!resource) throw resourceNotFound(name, path);
  const provider = await openProvider(deps, resource.provider);
  const warnings: string[] = [];
  await provider.rotate(resource.id);
  await audit(deps, { command: 'rotate', provider: resource.provider, resource: name, decision: 'rotated', details: { service: resource.service } }, warnings);
  return {
    data: { name, provider: resource.provider, service: resource.service, rotated: true, old_revoked: true },
    warnings,
    human: `rotated the credentials for ${name} at ${resource.provider}; the old ones are revoked`,
    bare: name,
  };
}
