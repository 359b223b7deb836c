/**
 * `agentprov remove <name> [--yes] [--only-credentials]`: deprovision the
 * resource at its provider (DELETE), forget its local credentials, drop it
 * from agentprov.json and the journal. `--only-credentials` forgets the local
 * credentials only (the resource stays, and stays in the manifest).
 * A human's yes: a prompt on a terminal, or --yes; otherwise exit 3
 * CONFIRMATION_REQUIRED.
 */
import { audit } from '../../provision/audit.js';
import { credentialsEntry } from '../../provision/steps/record.js';
import { deleteJournal, journalSlot, updateSlot } from '../../provision/journal.js';
import { findResource, loadManifest, manifestPathFor, resourceNotFound, updateManifest } from '../../project/manifest.js';
import { openProvider } from '../../provision/providers.js';
import type { Deps } from '../deps.js';
import { AgentprovError, isAgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] ?? '';
  const onlyCredentials = Boolean(opts.onlyCredentials);
  const path = manifestPathFor(deps);
  const resource = findResource(await loadManifest(path), name);
  if (!resource) throw resourceNotFound(name, path);
  const what = onlyCredentials ? `forget the local credentials of ${name}` : `delete ${name} (${resource.provider}/${resource.service}${resource.id ? ` ${resource.id}` : ''}) at ${resource.provider}; its data is destroyed`;
  if (!opts.yes) {
    if (!deps.canPrompt()) {
      throw new AgentprovError('CONFIRMATION_REQUIRED', `removing needs a human's yes: this would ${what}`, {
        details: { name, provider: resource.provider, service: resource.service, id: resource.id ?? null, only_credentials: onlyCredentials },
        nextSteps: [`agentprov remove ${name} --yes${onlyCredentials ? ' --only-credentials' : ''}`],
      });
    }
    if (!(await deps.prompter.confirm(`This will ${what}. Continue?`, false))) {
      throw new AgentprovError('CONFIRMATION_REQUIRED', 'not removed: the confirmation was declined', { details: { name } });
    }
  }
  const warnings: string[] = [];
  const slot = journalSlot(path, resource.provider, resource.service, name);
  let deprovisioned = false;
  if (!onlyCredentials && resource.id) {
    const provider = await openProvider(deps, resource.provider);
    try {
      await provider.remove(resource.id);
    } catch (err) {
      // Gone already (another machine removed it): nothing left to delete there.
      if (!(isAgentprovError(err) && /NOT_FOUND/.test(err.code))) throw err;
      warnings.push(`${name} was already gone at ${resource.provider}`);
    }
    deprovisioned = true;
  }
  const vault = await deps.vault();
  const hadCredentials = await vault.delete(credentialsEntry(slot));
  if (!onlyCredentials) {
    await updateManifest(deps, path, (m) => {
      m.resources = m.resources.filter((r) => r.name !== name);
    });
    await deleteJournal(deps.paths.state, slot);
    await deleteJournal(deps.paths.state, updateSlot(path, resource.provider, name));
  }
  await audit(deps, { command: 'remove', provider: resource.provider, resource: name, decision: onlyCredentials ? 'credentials_forgotten' : 'removed', details: { service: resource.service, id: resource.id ?? null, deprovisioned } }, warnings);
  const data = { name, provider: resource.provider, service: resource.service, id: resource.id ?? null, deprovisioned, credentials_deleted: hadCredentials, only_credentials: onlyCredentials, manifest: path };
  return {
    data,
    warnings,
    human: onlyCredentials ? `forgot the local credentials of ${name}` : `removed ${name} (${resource.provider}/${resource.service})`,
    bare: name,
  };
}
