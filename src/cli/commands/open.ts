/**
 * `agentprov open <name> [--print]`: the human's way into the provider's
 * console at one resource (src/provision/open.ts). A human at a terminal
 * gets the browser, and the link only when no browser could be started;
 * `--print`, `--json` and a piped stdout get the link itself, printed on
 * purpose (`reveal`): stdout is the only place a sign-in link may appear.
 */
import { openResource } from '../../provision/open.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const name = args[0] ?? '';
  const launch = opts.print !== true && deps.canPrompt();
  const r = await openResource(deps, name, { launch });
  const { link } = r;
  const expires = link.expiresAt?.toISOString() ?? null;
  const what = link.singleUse ? `the link works once${expires ? `, until ${expires}` : ''}` : `sign in to ${r.provider} there as usual`;
  const base = { name, provider: r.provider, service: r.service, id: r.id, expires_at: expires, single_use: link.singleUse, sign_in_link: link.secret, opened: r.opened };
  if (r.opened) {
    return {
      data: base,
      warnings: r.warnings,
      human: `opened ${r.provider}'s page for ${name} in your browser (${what})`,
    };
  }
  return {
    data: { ...base, url: link.url },
    warnings: [...r.warnings, ...(launch ? ['no browser could be started: open the link below yourself'] : [])],
    human: `${link.url}\n${link.secret ? `a sign-in link into ${r.provider} for ${name} (${what}); do not share it` : `${r.provider}'s page for ${name} (${what})`}`,
    bare: link.url,
    reveal: [link.url],
  };
}
