/**
 * The command table's entries for a project's resources: provisioning them,
 * their credentials, and the rest of their life (open, update, revoke, env).
 * src/cli/program.ts holds the table and builds the program from it.
 */
import type { CommandSpec } from './command-spec.js';
import { updateFlags } from './options.js';

export const RESOURCE_COMMANDS: CommandSpec[] = [
  {
    path: ['add'],
    summary: 'Provision a service for the signed-in human (terms and consent when needed); idempotent and resumable',
    configure: (c) =>
      c
        .argument('<service>', '<provider>/<service>, e.g. localcloud/kv:namespace')
        .option('--config <json>', 'the service config as a JSON object (see catalog <provider>/<service>)')
        .option('--param <key=value>', 'one config value (repeatable); coerced to the schema type', (v: string, prev: string[] = []) => [...prev, v])
        .option('--name <name>', 'name of the resource in agentprov.json (default: from the service; re-use it to resume)')
        .option('--accept-tos', "accept the provider's terms of service (a human's yes, for scripts)")
        .option('--preflight', 'list every blocker (sign-in, service, config, terms, consent) and change nothing')
        .option('--complete', 'finish a consent started by an earlier add (device flow) and continue')
        .option('--wait <seconds>', 'wait up to this long for a pending provision or consent (default 60)')
        .option('--confirm-paid-service', "confirm paying for a paid service (a human's yes, for scripts)")
        .option('--max-price <amount>', 'refuse when the catalog price or the provider quote is above this (major units, e.g. 12.00)'),
    load: () => import('./commands/add.js'),
  },
  {
    path: ['list'],
    summary: "List this project's resources with their status, refreshed from each provider",
    configure: (c) => c.option('--no-refresh', 'show the last known status without asking the providers'),
    load: () => import('./commands/list.js'),
  },
  {
    path: ['status'],
    summary: "Who is signed in, and this project's resources with their status refreshed from each provider",
    configure: (c) => c.option('--no-refresh', 'show the last known status without asking the providers'),
    load: () => import('./commands/status.js'),
  },
  {
    path: ['remove'],
    summary: 'Deprovision a resource, delete its credentials and drop it from agentprov.json',
    configure: (c) =>
      c
        .argument('<name>', 'the resource name in agentprov.json')
        .option('--yes', "a human's yes: do not ask")
        .option('--only-credentials', 'forget the local credentials only; the resource stays'),
    load: () => import('./commands/remove.js'),
  },
  {
    path: ['rotate'],
    summary: "New credentials from the resource's provider; the old ones are revoked",
    configure: (c) => c.argument('<name>', 'the resource name in agentprov.json'),
    load: () => import('./commands/rotate.js'),
  },
  {
    path: ['up'],
    summary: 'Provision everything in agentprov.json that is not provisioned yet (idempotent: a second run does nothing)',
    configure: (c) =>
      c
        .option('--accept-tos', "accept the terms of providers where you have no account yet (a human's yes)")
        .option('--complete', 'finish a consent started by an earlier up and continue')
        .option('--wait <seconds>', 'wait up to this long for each pending provision or consent (default 60)')
        .option('--confirm-paid-service', "confirm paying for every paid entry of this run (a human's yes, for scripts)")
        .option('--max-price <amount>', 'refuse any entry whose catalog price or provider quote is above this (major units, e.g. 12.00)')
        .option('--trust-manifest-providers', "trust the providers only agentprov.json names with your credentials (a human's yes)"),
    load: () => import('./commands/up.js'),
  },
  {
    path: ['token'],
    summary: 'Print a short-lived access token for a provider (or a resource\'s provider); cached while valid',
    configure: (c) =>
      c
        .argument('<target>', 'a provider id, or a resource name in agentprov.json')
        .option('--ttl <duration>', 'lifetime: 90s, 5m, 1h (default 10m, at most 60m)')
        .option('--scope <scope>', 'down-scope the token (repeatable)', (v: string, prev: string[] = []) => [...prev, v]),
    load: () => import('./commands/token.js'),
  },
  {
    path: ['run'],
    summary: 'Run a command with short-lived credentials in its environment, revoked when it ends',
    configure: (c) =>
      c
        .argument('<command...>', '[resource|provider ...] -- <command> [args...]: targets before --, the command after it')
        .option('--resource <name>', 'inject the credentials of this resource (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
        .option('--provider <id>', "inject this provider's token (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
        .option('--ttl <duration>', 'lifetime of the credentials: 90s, 5m, 1h (default 10m, at most 60m)')
        .option('--nested', 'allow running inside another agentprov run'),
    load: () => import('./commands/run.js'),
  },
  {
    path: ['open'],
    summary: "Open the provider's console at a resource in the browser with a single-use sign-in link (--print or --json: print the link instead)",
    configure: (c) => c.argument('<name>', 'the resource name in agentprov.json').option('--print', 'print the link instead of opening a browser'),
    load: () => import('./commands/open.js'),
  },
  {
    path: ['update'],
    summary: "Change a resource's plan or config where its provider allows it (paid changes as add); idempotent and resumable",
    configure: updateFlags,
    load: () => import('./commands/update.js'),
  },
  // revoke (issue 21)
  {
    path: ['revoke'],
    summary: 'Revoke every grant agentprov holds at a provider (or all, and sign out), at the provider and in the vault; resources stay',
    configure: (c) =>
      c
        .argument('[provider]', 'the provider whose grants to revoke')
        .option('--all', 'every provider, and sign the orchestrator session out')
        .option('--yes', "a human's yes: do not ask"),
    load: () => import('./commands/revoke.js'),
  },
  {
    path: ['env'],
    summary: "The variable names `run` would inject for these resources (default: all), where each comes from and how long its credential lives; never values",
    configure: (c) => c.argument('[names...]', 'resource names in agentprov.json (default: every provisioned one)'),
    load: () => import('./commands/env.js'),
  },
];
