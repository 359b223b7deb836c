/**
 * The tools `agentprov mcp` offers, each one CLI command: its input schema,
 * how its arguments become that command's arguments and options (what
 * commander would have parsed from the same words), and the flag table that
 * turns the command's `next_steps` back into a tool call. A flag the CLI
 * needs a human's yes for (`--accept-tos`, `--confirm-paid-service`,
 * `--max-price`, `remove --yes`) is an argument the agent passes explicitly,
 * as it would on the command line. `token` is not offered: no tool returns a
 * long-lived or even a short-lived secret.
 */
import { z } from 'zod';
import { LIFECYCLE_TOOLS } from './lifecycle-tools.js';
import { flag, type Flag, type ToolDef } from './tool-def.js';

export type { ToolDef } from './tool-def.js';

const noRefresh = { '--no-refresh': { arg: 'refresh', opt: 'refresh', kind: 'bool' } as Flag };
const refreshArg = { refresh: z.boolean().optional().describe('ask each provider for the current status (default true)') };

export const TOOLS: ToolDef[] = [
  {
    name: 'catalog',
    path: ['catalog'],
    description:
      'List the services of every known provider (compact: one line each with id, price, ", confirm" when add needs confirm_paid_service), or one service in full with its config schema (filter "<provider>/<service>").',
    input: {
      filter: z.string().max(300).optional().describe('a provider id or category, or <provider>/<service> for one service in full'),
      compact: z.boolean().optional().describe('one short line per service (recommended)'),
      refresh: z.boolean().optional().describe('revalidate every provider now'),
    },
    positional: [{ arg: 'filter' }],
    flags: { '--compact': flag('compact', 'compact'), '--refresh': flag('refresh', 'refresh') },
    readOnly: true,
    load: () => import('../commands/catalog.js'),
  },
  {
    name: 'search',
    path: ['search'],
    description: 'Find services by id, name, category and description across every provider.',
    input: { query: z.string().min(1).max(300).describe('words to look for'), refresh: z.boolean().optional() },
    positional: [{ arg: 'query', words: true }],
    flags: { '--refresh': flag('refresh', 'refresh') },
    readOnly: true,
    load: () => import('../commands/search.js'),
  },
  {
    name: 'add',
    path: ['add'],
    description:
      "Provision a service for the signed-in human; idempotent (re-use name to resume). The human's yes-flags are arguments you pass only when the human said yes: accept_tos (provider terms), confirm_paid_service (a paid service), max_price. A step that needs the human returns isError with the code, the verification URL and code, and next_call.",
    input: {
      service: z.string().min(3).max(300).describe('<provider>/<service>, e.g. localcloud/kv:namespace'),
      name: z.string().max(63).optional().describe('resource name in agentprov.json (lowercase, digits, dashes)'),
      config: z.record(z.string(), z.unknown()).optional().describe('the service config object (see catalog <provider>/<service>)'),
      accept_tos: z.boolean().optional().describe("the human accepted the provider's terms"),
      confirm_paid_service: z.boolean().optional().describe('the human confirmed paying for this paid service'),
      max_price: z.string().regex(/^\d{1,9}(\.\d{1,2})?$/).optional().describe('refuse above this price (major units, e.g. "12.00")'),
      preflight: z.boolean().optional().describe('list every blocker and change nothing'),
      complete: z.boolean().optional().describe('finish a consent the human approved, then continue'),
      wait_seconds: z.number().int().min(0).max(600).optional().describe('wait up to this long for a pending provision or consent'),
    },
    positional: [{ arg: 'service' }],
    flags: {
      '--name': flag('name', 'name', 'string'),
      '--config': flag('config', 'config', 'json'),
      '--accept-tos': flag('accept_tos', 'acceptTos'),
      '--confirm-paid-service': flag('confirm_paid_service', 'confirmPaidService'),
      '--max-price': flag('max_price', 'maxPrice', 'string'),
      '--preflight': flag('preflight', 'preflight'),
      '--complete': flag('complete', 'complete'),
      '--wait': flag('wait_seconds', 'wait', 'number'),
    },
    readOnly: false,
    load: () => import('../commands/add.js'),
  },
  {
    name: 'login',
    path: ['login'],
    description:
      'Sign the human in with a device code: returns isError AUTHORIZATION_PENDING with the verification URL and code to show the human; once approved, call again with complete: true.',
    input: {
      complete: z.boolean().optional().describe('finish the sign-in the human approved'),
      wait_seconds: z.number().int().min(0).max(600).optional().describe('with complete: keep polling up to this long'),
    },
    positional: [],
    flags: { '--complete': flag('complete', 'complete'), '--wait': flag('wait_seconds', 'wait', 'number'), '--device': flag('device', 'device') },
    always: { device: true, openBrowser: false },
    readOnly: false,
    load: () => import('../commands/login.js'),
  },
  {
    name: 'list',
    path: ['list'],
    description: "This project's resources with their status.",
    input: { ...refreshArg },
    positional: [],
    flags: noRefresh,
    readOnly: true,
    load: () => import('../commands/list.js'),
  },
  {
    name: 'status',
    path: ['status'],
    description: "Who is signed in, and this project's resources with their status.",
    input: { ...refreshArg },
    positional: [],
    flags: noRefresh,
    readOnly: true,
    load: () => import('../commands/status.js'),
  },
  {
    name: 'remove',
    path: ['remove'],
    description: "Deprovision a resource and drop it from agentprov.json. Needs yes: true, the human's yes (else CONFIRMATION_REQUIRED).",
    input: {
      name: z.string().min(1).max(63).describe('the resource name in agentprov.json'),
      yes: z.boolean().optional().describe('the human said yes to removing it'),
      only_credentials: z.boolean().optional().describe('forget the local credentials only; the resource stays'),
    },
    positional: [{ arg: 'name' }],
    flags: { '--yes': flag('yes', 'yes'), '--only-credentials': flag('only_credentials', 'onlyCredentials') },
    readOnly: false,
    destructive: true,
    load: () => import('../commands/remove.js'),
  },
  {
    name: 'spend',
    path: ['spend'],
    description: "This month's spend and holds per provider against the caps.",
    input: { provider: z.string().max(63).optional() },
    positional: [],
    flags: { '--provider': flag('provider', 'provider', 'string') },
    readOnly: true,
    load: () => import('../commands/spend.js'),
  },
  {
    name: 'budget_show',
    path: ['budget', 'show'],
    description: 'Monthly caps, spent and held per provider. Caps are raised only by the human (agentprov budget set, on the command line).',
    input: {},
    positional: [],
    fixed: ['show'],
    flags: {},
    readOnly: true,
    load: () => import('../commands/budget.js'),
  },
  {
    name: 'run',
    path: ['run'],
    description:
      "Run a command with short-lived credentials of resources (or providers) in its environment, revoked when it ends. Returns its exit code and its output (stdout and stderr, secrets masked), bounded in size and time.",
    input: {
      command: z.string().min(1).max(4096).describe('the program to run'),
      args: z.array(z.string().max(32_768)).max(256).optional().describe('its arguments'),
      resource: z.array(z.string().max(63)).max(32).optional().describe('resources whose credentials it gets'),
      provider: z.array(z.string().max(63)).max(32).optional().describe("providers whose token it gets"),
      ttl: z.string().max(16).optional().describe('credential lifetime: 90s, 5m, 1h (default 10m)'),
      timeout_seconds: z.number().int().min(1).max(600).optional().describe('stop the command after this long (default 120)'),
    },
    positional: [],
    flags: { '--resource': flag('resource', 'resource', 'list'), '--provider': flag('provider', 'provider', 'list'), '--ttl': flag('ttl', 'ttl', 'string') },
    readOnly: false,
    load: () => import('../commands/run.js'),
  },
  ...LIFECYCLE_TOOLS,
];
