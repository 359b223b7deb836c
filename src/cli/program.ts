/**
 * The command table. Each entry declares its arguments and flags and names
 * the module that implements it; the module is imported only when the
 * command runs, so `--version` and `--help` load no OIDC, HTTP or keychain
 * code. The commands on a project's resources (add … env) are in
 * resource-commands.ts.
 */
import { Command, Option } from 'commander';
import type { CommandSpec } from './command-spec.js';
import { signInFlags } from './options.js';
import { RESOURCE_COMMANDS } from './resource-commands.js';

export type { CommandModule, CommandSpec } from './command-spec.js';

export const COMMANDS: CommandSpec[] = [
  {
    path: ['vault', 'status'],
    summary: 'Say which credential store is in use and why (no secrets)',
    configure: (c) => c.option('--no-probe', 'skip the write/read/delete probe of the store'),
    load: () => import('./commands/vault-status.js'),
  },
  {
    path: ['sandbox'],
    summary: 'Run every counterpart (identity provider, payment rail, providers) on loopback until interrupted',
    configure: (c) =>
      c
        .option('--port <n>', 'port of the orchestrator; the rail and providers take the next ones (default: random, or the ports remembered in the data dir)')
        .option('--data-dir <dir>', 'where the sandbox keeps its state (default: <state dir>/sandbox)')
        .option('--auto-approve', 'approve device codes and consent for the demo user without a browser (demo and quick tests only)')
        .option('--trust-issuer <url>', "also trust this orchestrator's ID-JAGs at localcloud, its JWKS at <url>/jwks (e.g. the checker's: `providers check --issuer-port`); repeatable", (v: string, prev: string[] = []) => [...prev, v])
        .option('--app-stripe-signing-secret-stdin', "serve appcloud's Stripe-signed surface (/api/partners/stripe/) with the signing secret read from standard input"),
    load: () => import('./commands/sandbox.js'),
  },
  {
    path: ['init'],
    summary: 'Sign in at an orchestrator and create agentprov.json here (safe to re-run)',
    configure: (c) =>
      signInFlags(
        c
          .option('--orchestrator <url>', 'the orchestrator (reads its /.well-known/agent-orchestrator)')
          .option('--issuer <url>', 'sign in at this OIDC issuer directly (with --client-id)')
          .option('--client-id <id>', "agentprov's client id at --issuer")
          .option('--accept-tos', "accept the orchestrator's terms (a human's yes, for scripts)")
          .option('--preflight', 'list every blocker (issuer, keychain, session) and change nothing')
          .option('--skills-only', 'only write (or refresh) the agent skill .agents/skills/agentprov/SKILL.md; no sign-in')
          .option('--claude-skill', 'also write the skill for Claude Code (.claude/skills/agentprov/SKILL.md) without asking')
          .option('--agents-md', "add agentprov's notes to AGENTS.md (a delimited block) without asking"),
      ),
    load: () => import('./commands/init.js'),
  },
  {
    path: ['login'],
    summary: 'Sign in at the configured orchestrator; agents get a device code and finish with --complete',
    configure: (c) =>
      signInFlags(
        c
          .option('--complete', 'finish a sign-in started by an earlier login/init (device flow)')
          .option('--wait <seconds>', 'with --complete: keep polling up to this long (default 0: one poll)'),
      ),
    load: () => import('./commands/login.js'),
  },
  {
    path: ['logout'],
    summary: 'Revoke the session at the issuer and delete it from the vault',
    load: () => import('./commands/logout.js'),
  },
  {
    path: ['whoami'],
    summary: 'Show who is signed in, where, until when, and where secrets live (never a secret)',
    configure: (c) => c.option('--refresh', 'renew the access token now if it expires within a minute (network)'),
    load: () => import('./commands/whoami.js'),
  },
  {
    path: ['catalog'],
    summary: 'List the services of every known provider, or show one in full (catalog <provider>/<service>)',
    configure: (c) =>
      c
        .argument('[filter]', 'a provider id or a category, or <provider>/<service> for one service in full')
        .option('--refresh', 'revalidate every provider now instead of using a fresh cache')
        .option('--compact', 'one short line per service (id, price, description) for agents'),
    load: () => import('./commands/catalog.js'),
  },
  {
    path: ['search'],
    summary: 'Find services by id, name, category and description across every provider',
    configure: (c) => c.argument('<query...>', 'words to look for').option('--refresh', 'revalidate every provider now'),
    load: () => import('./commands/search.js'),
  },
  {
    path: ['providers', 'add'],
    summary: 'Add a provider by its descriptor URL (or origin; or `posthog` for its APP base); its descriptor and catalog are checked now',
    configure: (c) =>
      c
        .argument('<url>', 'https://provider.example or …/.well-known/agent-provisioning (with --protocol app: the APP base URL)')
        .option('--protocol <protocol>', 'agentprov (default) or app (APP 0.1d)')
        .option('--id <id>', 'with --protocol app: the id to list it under (default: from the host name)')
        .option('--client-id <url>', "with --protocol app: your Client ID Metadata Document's URL (default: the orchestrator's)")
        .option('--eu', 'with a named APP provider (`providers add posthog`): its EU base instead of the US one'),
    load: () => import('./commands/providers-add.js'),
  },
  {
    path: ['providers', 'list'],
    summary: 'List known providers and where each came from (orchestrator, user, manifest)',
    load: () => import('./commands/providers-list.js'),
  },
  {
    path: ['providers', 'remove'],
    summary: 'Forget a provider added by the user or the orchestrator, and its cached catalog',
    configure: (c) => c.argument('<id>', 'provider id or descriptor URL'),
    load: () => import('./commands/providers-remove.js'),
  },
  {
    path: ['providers', 'link'],
    summary: 'Link a Cloudflare account: a human approves OAuth consent in a browser (or, with --api-token-stdin, gives an API token once); it stays in the vault',
    configure: (c) =>
      c
        .argument('<provider>', 'the provider to link (cloudflare)')
        .option('--account <id>', 'the Cloudflare account to use when the token reaches several')
        .option('--api-url <url>', 'the Cloudflare API base URL (default https://api.cloudflare.com/client/v4, or AGENTPROV_CLOUDFLARE_API_URL)')
        .option('--client-id <id>', 'the Cloudflare OAuth client id (default AGENTPROV_CLOUDFLARE_CLIENT_ID, else the orchestrator\'s)')
        .option('--scope <scope>', 'an agentprov scope to add to the consent, e.g. api_tokens:write (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
        .option('--api-token-stdin', 'link with a pasted API token (hidden prompt or stdin) instead of OAuth consent')
        .option('--unlink', 'end the link: revoke the OAuth grant at Cloudflare and forget it here'),
    load: () => import('./commands/providers-link.js'),
  },
  {
    path: ['providers', 'check'],
    summary: "Check a provider's conformance (agentprov protocol or APP 0.1d) as an orchestrator would: one line per check; exit 5 when a MUST fails",
    configure: (c) =>
      c
        .argument('<url>', 'the provider: its origin or descriptor URL (agentprov), or its APP base URL (…/api/agentic/)')
        .option('--protocol <protocol>', 'agentprov or app (default: detected)')
        .option('--allow-paid', 'run the payment checks, which buy the cheapest paid service once (removed afterwards) with tokens from your orchestrator\'s rail')
        .option('--issuer-port <n>', "the loopback port of the checker's own orchestrator (its issuer is http://127.0.0.1:<n>, JWKS at /jwks); the provider must trust it", String(4480))
        .option('--stripe-signing-secret-stdin', 'APP: also check the Stripe-signed surface, signing with the secret read from standard input')
        .option('--stripe-url <url>', 'APP: the Stripe-signed surface (default: <origin>/api/partners/stripe/)'),
    load: () => import('./commands/providers-check.js'),
  },
  {
    path: ['audit'],
    summary: 'Show the local hash-chained audit log, or check it for tampering (--verify)',
    configure: (c) =>
      c
        .option('--verify', 'walk the hash chain: exit 0 when intact, else AUDIT_TAMPERED naming the first broken line')
        .option('--limit <n>', 'show the last N records (default 50)'),
    load: () => import('./commands/audit.js'),
  },
  ...RESOURCE_COMMANDS,
  {
    path: ['budget'],
    summary: 'budget [show]: monthly caps, spent and held per provider; budget set <provider|--global> <amount>: lowering is immediate, raising needs the human to approve that raise at the identity provider',
    configure: (c) =>
      c
        .argument('[action]', 'show (default) or set')
        .argument('[target]', 'with set: a provider id (or, with --global, the amount)')
        .argument('[amount]', 'with set: the cap in major units, e.g. 150.00')
        .option('--global', 'with set: the cap across all providers')
        .option('--complete', 'with set: finish the approval started by an earlier budget set of the same raise, then apply it')
        .option('--wait <seconds>', 'with --complete: keep polling up to this long (default 0: one poll)'),
    load: () => import('./commands/budget.js'),
  },
  {
    path: ['mcp'],
    summary: 'Serve the commands as MCP tools over stdio (catalog, search, add, list, status, remove, spend, budget_show, run) for agents that speak MCP',
    load: () => import('./commands/mcp.js'),
  },
  {
    path: ['llm-context'],
    summary: "Print the compact guidance for agents and the compact catalog of the current providers (or one provider's)",
    configure: (c) => c.argument('[provider]', 'only this provider (or category)').option('--refresh', 'revalidate every provider now'),
    load: () => import('./commands/llm-context.js'),
  },
  {
    path: ['spend'],
    summary: "This month's spend and holds per provider against the caps",
    configure: (c) => c.option('--provider <id>', 'only this provider'),
    load: () => import('./commands/spend.js'),
  },
];

export type Invoke = (spec: CommandSpec, args: string[], opts: Record<string, unknown>, name: string) => Promise<void>;

/**
 * `prepare` configures the root before any subcommand exists: commander copies
 * exit and output settings into subcommands only when they are created.
 */
export function buildProgram(version: string, invoke: Invoke, prepare: (root: Command) => void = () => {}, specs: CommandSpec[] = COMMANDS): Command {
  const program = new Command('agentprov');
  prepare(program);
  program
    .description('Provision services at external providers for a signed-in human; agents get only short-lived credentials.')
    .version(version, '-V, --version')
    .addOption(new Option('--json', 'print exactly one JSON envelope on stdout'))
    .addOption(new Option('--no-input', 'never prompt; fail with next steps instead'))
    .addOption(new Option('--verbose', 'diagnostics on stderr'))
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false);

  const groups = new Map<string, Command>();
  for (const spec of specs) {
    let parent = program;
    for (const [i, part] of spec.path.slice(0, -1).entries()) {
      const key = spec.path.slice(0, i + 1).join(' ');
      let group = groups.get(key);
      if (!group) {
        group = parent.command(part).description(`${part} commands`);
        groups.set(key, group);
      }
      parent = group;
    }
    const leaf = parent.command(spec.path.at(-1)!).description(spec.summary);
    spec.configure?.(leaf);
    leaf.action(async (...all: unknown[]) => {
      const cmd = all.at(-1) as Command;
      const args = cmd.args.slice(0, cmd.registeredArguments.length).map(String);
      await invoke(spec, cmd.registeredArguments.some((a) => a.variadic) ? cmd.args.map(String) : args, cmd.optsWithGlobals(), spec.path.join(' '));
    });
  }
  return program;
}
