/**
 * The tools for the rest of a resource's life (issue 21): what `run` would
 * inject (`env`), plan and config changes (`update`) and the single
 * revocation point (`revoke`). Each is its CLI command, as in tools.ts; a
 * human's yes (paying, revoking) is an argument the agent passes only when
 * the human said yes. `open` is not offered: its sign-in link is for the
 * human, and everything a tool returns goes to the model (the server masks
 * the link as the secret it is).
 */
import { z } from 'zod';
import { flag, type ToolDef } from './tool-def.js';

const name = z.string().min(1).max(63).describe('the resource name in agentprov.json');

export const LIFECYCLE_TOOLS: ToolDef[] = [
  {
    name: 'env',
    path: ['env'],
    description:
      'The environment variable names run would set for these resources, where each comes from (resource, provider) and whether its credential is short-lived or long-lived. Never values.',
    input: { names: z.string().max(2000).optional().describe('resource names, space-separated (default: every provisioned one)') },
    positional: [{ arg: 'names', words: true }],
    flags: {},
    readOnly: true,
    load: () => import('../commands/env.js'),
  },
  {
    name: 'update',
    path: ['update'],
    description:
      "Move a resource to another service of its provider (a plan change the catalog's allowed_updates permits) or change its config; idempotent and resumable. A paid change needs confirm_paid_service, the human's yes, and stays under max_price and the caps.",
    input: {
      name,
      service: z.string().max(200).optional().describe('the service to move to, e.g. kv:pro'),
      config: z.record(z.string(), z.unknown()).optional().describe('the new config object (default: the current one)'),
      confirm_paid_service: z.boolean().optional().describe('the human confirmed paying for this change'),
      max_price: z.string().regex(/^\d{1,9}(\.\d{1,2})?$/).optional().describe('refuse above this price (major units, e.g. "12.00")'),
    },
    positional: [{ arg: 'name' }],
    flags: {
      '--service': flag('service', 'service', 'string'),
      '--config': flag('config', 'config', 'json'),
      '--confirm-paid-service': flag('confirm_paid_service', 'confirmPaidService'),
      '--max-price': flag('max_price', 'maxPrice', 'string'),
    },
    readOnly: false,
    load: () => import('../commands/update.js'),
  },
  {
    name: 'revoke',
    path: ['revoke'],
    description:
      "Revoke every grant agentprov holds at a provider (all: every provider, and sign out) at the provider and locally; resources stay. Needs yes: true, the human's yes (else CONFIRMATION_REQUIRED).",
    input: {
      provider: z.string().max(63).optional().describe('the provider whose grants to revoke'),
      all: z.boolean().optional().describe('every provider, and sign the session out'),
      yes: z.boolean().optional().describe('the human said yes to revoking'),
    },
    positional: [{ arg: 'provider' }],
    flags: { '--all': flag('all', 'all'), '--yes': flag('yes', 'yes') },
    readOnly: false,
    destructive: true,
    load: () => import('../commands/revoke.js'),
  },
];
