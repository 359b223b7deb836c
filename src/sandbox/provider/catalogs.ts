/**
 * The built-in catalogs of the sandbox providers. Amounts are integer minor
 * units (USD cents). `engine` says how the sandbox implements each service
 * and is stripped before the catalog goes on the wire.
 */
import type { ServiceDefinition } from './types.js';

const domainSchema = {
  type: 'object',
  properties: {
    domain: {
      type: 'string',
      description: 'Lowercase domain under the .test TLD, e.g. mysite.test',
      maxLength: 253,
      pattern: '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+test$',
    },
  },
  required: ['domain'],
  additionalProperties: false,
};

const noConfig = { type: 'object', properties: {}, additionalProperties: false };

/** How many keys a free KV namespace holds; the paid plans hold more (an update moves between them, docs/protocol.md §4.4). */
export const KV_FREE_KEYS = 100;

/** One KV plan: the same namespace engine, its own price and key limit, and the plans it may move to. */
function kvPlan(id: string, name: string, plan: string, pricing: ServiceDefinition['pricing'], maxKeys: number, allowed: string[]): ServiceDefinition {
  return {
    id,
    name,
    description: `A key-value namespace reachable over HTTP with the account token (${plan}: at most ${maxKeys} keys).`,
    categories: ['storage'],
    pricing,
    config_schema: noConfig,
    scopes: ['provision', 'kv:read', 'kv:write'],
    env: { LOCALCLOUD_TOKEN: 'access_token', LOCALCLOUD_KV_URL: 'resource.url' },
    kind: 'resource',
    async: false,
    allowed_updates: allowed,
    engine: { type: 'kv', readScope: 'kv:read', writeScope: 'kv:write', maxKeys },
  };
}

export const localcloudCatalog: ServiceDefinition[] = [
  {
    id: 'registrar:domain',
    name: 'Domain registration',
    description: 'Registers a .test domain for one year. Registration completes asynchronously.',
    categories: ['domains'],
    pricing: { type: 'one_time', amount: 1200, currency: 'USD' },
    config_schema: domainSchema,
    scopes: ['provision'],
    env: { LOCALCLOUD_DOMAIN: 'resource.domain' },
    kind: 'resource',
    async: true,
    engine: { type: 'domain' },
  },
  {
    id: 'workers:paid',
    name: 'Workers Paid plan',
    description: 'Raises the account limits for scripts. Billed monthly.',
    categories: ['compute', 'plans'],
    pricing: { type: 'recurring', amount: 500, currency: 'USD', interval: 'month' },
    config_schema: noConfig,
    scopes: ['provision'],
    env: {},
    kind: 'plan',
    async: false,
    engine: { type: 'static', attributes: { plan: 'workers-paid', requests_per_day: 10_000_000 } },
  },
  kvPlan('kv:namespace', 'KV namespace', 'free plan', { type: 'free' }, KV_FREE_KEYS, ['kv:pro', 'kv:scale']),
  kvPlan('kv:pro', 'KV namespace, Pro plan', 'Pro plan', { type: 'recurring', amount: 900, currency: 'USD', interval: 'month' }, 10_000, ['kv:namespace', 'kv:scale']),
  kvPlan('kv:scale', 'KV namespace, Scale plan', 'Scale plan', { type: 'recurring', amount: 4900, currency: 'USD', interval: 'month' }, 100_000, ['kv:namespace', 'kv:pro']),
  {
    id: 'workers:script',
    name: 'Worker script',
    description: 'Serves uploaded HTML on a hostname, or on a domain the account registered.',
    categories: ['compute', 'hosting'],
    pricing: { type: 'free' },
    config_schema: {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$' },
        domain: domainSchema.properties.domain,
      },
      required: ['name'],
      additionalProperties: false,
    },
    scopes: ['provision', 'scripts:deploy'],
    env: {
      LOCALCLOUD_TOKEN: 'access_token',
      LOCALCLOUD_SCRIPT_URL: 'resource.url',
      LOCALCLOUD_HOSTNAME: 'resource.hostname',
    },
    kind: 'resource',
    async: false,
    engine: { type: 'script', deployScope: 'scripts:deploy' },
  },
  {
    id: 'db:postgres',
    name: 'Postgres database',
    description: 'A managed Postgres database (a stand-in: the sandbox runs no database).',
    categories: ['databases'],
    pricing: { type: 'recurring', amount: 3000, currency: 'USD', interval: 'month' },
    config_schema: {
      type: 'object',
      properties: { region: { type: 'string', enum: ['local-1', 'local-2'], default: 'local-1' } },
      additionalProperties: false,
    },
    scopes: ['provision'],
    env: { LOCALCLOUD_DB_HOST: 'resource.host', LOCALCLOUD_DB_NAME: 'resource.database' },
    kind: 'resource',
    async: false,
    // A region move in place: a config change of the same service, free.
    allowed_updates: ['db:postgres'],
    engine: { type: 'static', attributes: { host: '{short}.db.{provider}.test', port: 5432, database: '{name}' } },
  },
];

export const othercloudCatalog: ServiceDefinition[] = [
  {
    id: 'storage:bucket',
    name: 'Object bucket',
    description: 'An object bucket reachable over HTTP with the account token.',
    categories: ['storage'],
    pricing: { type: 'free' },
    config_schema: noConfig,
    scopes: ['provision', 'storage:read', 'storage:write'],
    env: { OTHERCLOUD_TOKEN: 'access_token', OTHERCLOUD_BUCKET_URL: 'resource.url' },
    kind: 'resource',
    async: false,
    engine: { type: 'kv', readScope: 'storage:read', writeScope: 'storage:write', maxKeys: 1000 },
  },
  {
    id: 'queue:basic',
    name: 'Basic queue',
    description: 'A message queue (a stand-in: the sandbox delivers no messages).',
    categories: ['messaging'],
    pricing: { type: 'free' },
    config_schema: noConfig,
    scopes: ['provision'],
    env: { OTHERCLOUD_QUEUE: 'resource.queue' },
    kind: 'resource',
    async: false,
    engine: { type: 'static', attributes: { queue: '{name}-{short}', region: 'other-1' } },
  },
];

/** The built-in catalog for a provider id (localcloud, othercloud), else undefined. */
export function builtinCatalog(providerId: string): ServiceDefinition[] | undefined {
  if (providerId === 'localcloud') return localcloudCatalog;
  if (providerId === 'othercloud') return othercloudCatalog;
  return undefined;
}
