/**
 * `agentprov providers link cloudflare [--account ID] [--api-url URL]`: a
 * human gives agentprov a Cloudflare API token once; agentprov verifies it,
 * picks the account, proves it may create tokens, and keeps it in the vault
 * (src/providers/cloudflare/link.ts). The agent never sees it.
 *
 * The token is read ONLY from a hidden prompt when stdin is a terminal, or
 * from standard input when it is not (one line, at most 4 KiB, within a
 * deadline) — never from an argument or the environment, where it would end
 * up in shell history, process listings or a child's environment.
 */
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import type { CommandResult } from '../output.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { readSecretFromStdin } from '../stdin.js';

export const MAX_TOKEN_INPUT_BYTES = 4096;
const STDIN_DEADLINE_MS = 30_000;
const LINKABLE = ['cloudflare'];

export interface LinkUi {
  /** Pick one account on a terminal; returns its id. */
  selectAccount(deps: Deps, accounts: Array<{ id: string; name: string }>): Promise<string>;
}

const defaultUi: LinkUi = {
  async selectAccount(deps, accounts) {
    const { select } = await import('../prompts.js');
    return select(
      { message: 'Which Cloudflare account should agentprov use?', choices: accounts.map((a) => ({ name: `${a.name || a.id} (${a.id})`, value: a.id })) },
      { input: deps.io.stdin, output: deps.io.stderr },
    );
  },
};

export function run(deps: Deps, args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  return linkCommand(deps, args, opts, defaultUi);
}

export async function linkCommand(deps: Deps, args: string[], opts: Record<string, unknown>, ui: LinkUi): Promise<CommandResult> {
  const provider = (args[0] ?? '').trim().toLowerCase();
  if (!LINKABLE.includes(provider)) {
    throw new AgentprovError('USAGE', `only ${LINKABLE.join(', ')} can be linked with an API token today, not "${sanitizeLine(args[0] ?? '').slice(0, 64)}"; other providers authorize through \`agentprov add\``, {
      details: { provider: sanitizeLine(args[0] ?? '').slice(0, 64), linkable: LINKABLE },
      nextSteps: ['agentprov providers link cloudflare'],
    });
  }
  const [{ checkApiUrl, DEFAULT_API_URL, API_URL_ENV }, { linkCloudflare, linkHowTo }, { getSession }] = await Promise.all([
    import('../../providers/cloudflare/client.js'),
    import('../../providers/cloudflare/link.js'),
    import('../../auth/session.js'),
  ]);
  const apiUrl = checkApiUrl(typeof opts.apiUrl === 'string' ? opts.apiUrl : deps.env[API_URL_ENV] || DEFAULT_API_URL);
  const account = typeof opts.account === 'string' ? opts.account.trim() : undefined;
  await getSession(deps); // signed in before a human is asked for anything (NOT_SIGNED_IN otherwise)
  if (opts.unlink === true) return (await import('./providers-link-oauth.js')).unlink(deps);
  const clientId = opts.apiTokenStdin === true ? undefined : await (await import('./providers-link-oauth.js')).knownClientId(deps, opts);
  if (clientId) return (await import('./providers-link-oauth.js')).linkByConsent(deps, opts, { apiUrl, clientId, ...(account ? { account } : {}) }, ui);

  const token = await readToken(deps, linkHowTo());
  deps.io.redactor.add(token);
  const outcome = await linkCloudflare(deps, {
    token,
    apiUrl,
    ...(account ? { account } : {}),
    ...(deps.canPrompt() ? { chooseAccount: (accounts: Array<{ id: string; name: string }>) => ui.selectAccount(deps, accounts) } : {}),
  });
  const data = { provider: outcome.provider, account_id: outcome.account_id, account_name: outcome.account_name, token_id: outcome.token_id, api_url: outcome.api_url };
  return {
    data,
    warnings: outcome.warnings,
    nextSteps: ['agentprov catalog cloudflare', 'agentprov add cloudflare/kv:namespace --name cache'],
    human: `${outcome.relinked ? 're-linked' : 'linked'} Cloudflare account ${outcome.account_name || outcome.account_id} (${outcome.account_id}); the token stays in the vault\n  API ${outcome.api_url}`,
    bare: outcome.account_id,
  };
}

/** The parent token: a hidden prompt on a terminal, else standard input (src/cli/stdin.ts). Never echoed. */
async function readToken(deps: Deps, howTo: string[]): Promise<string> {
  if (!deps.io.stdinIsTTY) {
    return readSecretFromStdin(deps.io, 'Cloudflare API token', { maxBytes: MAX_TOKEN_INPUT_BYTES, deadlineMs: STDIN_DEADLINE_MS, nextSteps: howTo });
  }
  if (!deps.canPrompt()) {
    throw new AgentprovError('USAGE', 'the Cloudflare API token is read from a hidden prompt on a terminal (not with --json, --no-input or CI), or from standard input', { nextSteps: howTo });
  }
  const token = (await deps.prompter.password('Cloudflare API token (needs "API Tokens Write"; input hidden):')).trim();
  if (!token) throw new AgentprovError('USAGE', 'no Cloudflare API token was given', { nextSteps: howTo });
  if (/[\r\n]/.test(token)) throw new AgentprovError('USAGE', 'the Cloudflare API token must be one line', { nextSteps: howTo });
  return token;
}
