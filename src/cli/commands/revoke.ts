/**
 * `agentprov revoke [<provider> | --all] [--yes]`: end every grant agentprov
 * holds at those providers, at the provider, and delete it here; with
 * `--all`, sign the orchestrator session out too (src/exec/revoke.ts).
 * Resources stay. A human's yes: a prompt on a terminal, or --yes;
 * otherwise exit 3 CONFIRMATION_REQUIRED.
 */
import { AgentprovError } from '../../core/errors.js';
import { revokeGrants, type ProviderRevocation } from '../../exec/revoke.js';
import { sanitizeLine } from '../../util/sanitize.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const named = args[0];
  const all = Boolean(opts.all);
  if ((named === undefined) === !all) {
    throw new AgentprovError('USAGE', all ? 'name a provider or pass --all, not both' : 'name the provider whose grants to revoke, or pass --all', {
      nextSteps: ['agentprov revoke <provider> --yes', 'agentprov revoke --all --yes'],
    });
  }
  const target = all ? '--all' : sanitizeLine(named!).slice(0, 64);
  const what = all
    ? 'revoke every grant agentprov holds at every provider, delete them from the vault and sign you out; resources stay'
    : `revoke the grant agentprov holds at ${target} and delete it from the vault; resources stay`;
  if (!opts.yes) {
    if (!deps.canPrompt()) {
      throw new AgentprovError('CONFIRMATION_REQUIRED', `revoking needs a human's yes: this would ${what}`, {
        details: { target },
        nextSteps: [`agentprov revoke ${target} --yes`],
      });
    }
    if (!(await deps.prompter.confirm(`This will ${what}. Continue?`, false))) {
      throw new AgentprovError('CONFIRMATION_REQUIRED', 'nothing revoked: the confirmation was declined', { details: { target } });
    }
  }
  const r = await revokeGrants(deps, { providers: all ? 'all' : [named!] });
  const lines = r.nothing_to_revoke ? [`nothing to revoke: agentprov holds no grant ${all ? 'at any provider' : `at ${target}`}`] : r.providers.filter((p) => p.held !== null).map(line);
  if (r.session) lines.push(r.session.signed_out ? `signed out of the orchestrator${r.session.revoked ? ' (session revoked at the issuer)' : ' (deleted locally; the issuer did not revoke it)'}` : 'no orchestrator session to sign out');
  const { warnings, ...data } = r;
  return {
    data,
    warnings,
    nextSteps: r.nothing_to_revoke ? [] : [...(all ? ['agentprov login'] : []), 'agentprov add <provider>/<service> --name <resource>  (authorizes again; resources stayed)'],
    human: lines.join('\n'),
  };
}

function line(p: ProviderRevocation): string {
  const head = p.revoked_at_provider
    ? `${p.provider}: revoked at the provider (${p.held}) and deleted here`
    : `${p.provider}: NOT revoked at the provider (${p.error ? `${p.error.code}, after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}` : 'it offers no revocation'}); ${p.held} deleted here anyway`;
  const tokens = p.cached_tokens ? `\n  ${p.cached_tokens} cached short-lived token${p.cached_tokens === 1 ? '' : 's'} given back and dropped` : '';
  return `${head}${tokens}${p.remedy ? `\n  remedy: ${p.remedy}` : ''}`;
}
