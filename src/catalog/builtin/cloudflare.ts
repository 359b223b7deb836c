/**
 * The built-in Cloudflare catalog (issue 9): five services on Cloudflare's
 * public REST API, versioned with agentprov. Static data and no imports of
 * the SDK, so `agentprov catalog` lists them without loading any Cloudflare
 * code (src/catalog/gather.ts merges them into the gathered catalog).
 *
 * Service ids follow Stripe Projects where the service is the same
 * (`registrar:domain`, `r2:bucket`); the others name product and offering
 * (`kv:namespace`, `d1:database`, `workers:script`). `scopes` are agentprov
 * names for what a child API token may do; SCOPE_PERMISSION_GROUPS is the one
 * table that turns them into Cloudflare permission-group names (looked up by
 * name at `GET /user/tokens/permission_groups`, never hard-coded ids). No
 * scope ever grants provisioning to the child: tokens, billing and the
 * registrar stay with the parent token in the vault.
 */
import type { CatalogService } from '../service.js';

export const CLOUDFLARE_PROVIDER_ID = 'cloudflare';
/** Bumped whenever a service, schema, price or env mapping below changes. */
export const CLOUDFLARE_CATALOG_VERSION = '2026-11-22';

/** Cloudflare's region hints, shared by R2 (`locationHint`) and D1 (`primary_location_hint`). */
export const LOCATION_HINTS = ['wnam', 'enam', 'weur', 'eeur', 'apac', 'oc'] as const;

/**
 * agentprov scope → Cloudflare permission-group names. Account-scoped groups
 * are granted on `com.cloudflare.api.account.<account_id>`; zone-scoped ones
 * on every zone of that account (nothing outside it).
 */
export const SCOPE_PERMISSION_GROUPS: Readonly<Record<string, readonly string[]>> = {
  'account_settings:read': ['Account Settings Read'],
  'workers_scripts:write': ['Workers Scripts Write'],
  'workers_kv:write': ['Workers KV Storage Write'],
  'workers_r2:write': ['Workers R2 Storage Write'],
  'd1:write': ['D1 Write'],
  'zone:read': ['Zone Read'],
  'dns:write': ['DNS Write'],
};

/**
 * Cloudflare's OAuth scopes are "named after API-token permissions"
 * (developers.cloudflare.com/fundamentals/oauth/create-an-oauth-client/); the
 * documented examples spell "User Details Read" as `user-details.read`. The
 * rule below (words joined by hyphens, the access level after a dot) is that
 * example generalised: the real names are listed by GET /oauth/scopes and
 * have not been checked against it (README, Cloudflare section).
 */
export function oauthScopeOf(permissionGroup: string): string {
  const words = permissionGroup.trim().toLowerCase().split(/\s+/);
  const level = words.length > 1 ? words.pop()! : 'read';
  return `${words.join('-')}.${level}`;
}

/** agentprov scopes a human may add at `providers link --scope` beyond the services' (never granted to a child token). */
export const LINK_ONLY_SCOPES: Readonly<Record<string, readonly string[]>> = {
  // Lets agentprov mint child API tokens narrower and shorter-lived than the OAuth access token.
  'api_tokens:write': ['API Tokens Write'],
};

/** The OAuth scope that asks for a refresh token (what wrangler asks Cloudflare for; the self-managed client docs are silent). */
export const OAUTH_OFFLINE_SCOPE = 'offline_access';

/** What agentprov itself needs to provision beyond the services' scopes (registering a domain), never granted to a child token. */
export const PROVISIONING_PERMISSION_GROUPS: readonly string[] = ['Registrar Domains Write'];

/** The OAuth scopes `providers link` asks for: every service's and the base scopes' permissions, provisioning, `extra` agentprov scopes, offline access. */
export function linkOAuthScopes(extra: readonly string[] = []): string[] {
  const agentprovScopes = new Set([...BASE_SCOPES, ...CLOUDFLARE_SERVICES.flatMap((s) => s.scopes), ...extra]);
  const groups = [...[...agentprovScopes].flatMap((s) => SCOPE_PERMISSION_GROUPS[s] ?? LINK_ONLY_SCOPES[s] ?? []), ...PROVISIONING_PERMISSION_GROUPS];
  return [...new Set(groups.map(oauthScopeOf)), OAUTH_OFFLINE_SCOPE];
}

/** What every child token gets when no scope is asked for (`run --provider cloudflare`), besides every service's scopes: enough for `wrangler whoami` / `wrangler deploy` to read the account. */
export const BASE_SCOPES: readonly string[] = ['account_settings:read'];

/** The narrow policy of the probe token `providers link` creates and deletes again to prove the parent may create tokens (else the first catalog group the parent holds). */
export const PROBE_PERMISSION_GROUP = 'Account Settings Read';

const CREDENTIAL_ENV = { CLOUDFLARE_API_TOKEN: 'access_token', CLOUDFLARE_ACCOUNT_ID: 'account_id' } as const;

/** Lower-case FQDN; at most 120 characters so `domain/<name>` stays a valid provision id (≤ 128). */
export const HOSTNAME_PATTERN = '^(?=.{4,120}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])$';

const service = (s: Omit<CatalogService, 'provider' | 'kind' | 'async'> & Partial<Pick<CatalogService, 'kind' | 'async'>>): CatalogService => ({
  provider: CLOUDFLARE_PROVIDER_ID,
  kind: 'resource',
  async: false,
  ...s,
});

export const CLOUDFLARE_SERVICES: CatalogService[] = [
  service({
    id: 'registrar:domain',
    name: 'Domain (Cloudflare Registrar)',
    description:
      "Register a domain through Cloudflare Registrar, billed to the Cloudflare account's own payment method at Cloudflare's at-cost registry price. " +
      'The price shown is an example for a .com; the real price comes from Cloudflare\'s availability check when you add it, and is confirmed with you first. ' +
      'Registrations are non-refundable. Needs a billing profile and a default registrant contact set up once in the Cloudflare dashboard. Premium domains are not supported by the API.',
    categories: ['domains'],
    pricing: { type: 'recurring', amount: 1044, currency: 'USD', interval: 'year', quoted_at_add: true },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      required: ['domain'],
      properties: {
        domain: { type: 'string', pattern: HOSTNAME_PATTERN, description: 'The fully qualified domain name to register, lower case (punycode for IDNs), e.g. example.com.' },
        years: { type: 'integer', minimum: 1, maximum: 10, default: 1, description: 'Registration term in years.' },
        auto_renew: { type: 'boolean', default: true, description: "Let Cloudflare renew the domain before it expires (charged to the account's payment method)." },
        privacy: { type: 'boolean', default: true, description: 'WHOIS redaction where the extension supports it.' },
      },
    },
    // DNS of the new zone needs zone-level grants, which a child token narrowed to the account does not carry.
    scopes: ['account_settings:read'],
    env: { ...CREDENTIAL_ENV, CLOUDFLARE_DOMAIN: 'resource.domain' },
    async: true,
  }),
  service({
    id: 'workers:script',
    name: 'Worker script',
    description:
      'A Cloudflare Worker, created with a placeholder that answers "placeholder deployed by agentprov" until you deploy your own code (e.g. `agentprov run --resource <name> -- wrangler deploy`). ' +
      'Free on the Workers Free plan within its daily request limit; usage above it needs Workers Paid.',
    categories: ['compute'],
    pricing: { type: 'free' },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        script_name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Worker name (default: the resource name).' },
      },
    },
    scopes: ['workers_scripts:write', 'account_settings:read'],
    env: { ...CREDENTIAL_ENV, CLOUDFLARE_WORKER_NAME: 'resource.name' },
  }),
  service({
    id: 'kv:namespace',
    name: 'Workers KV namespace',
    description: 'A Workers KV namespace: global, low-latency key-value storage for configs and caches. Free to create; reads, writes and storage above the Workers Free allowance need Workers Paid.',
    categories: ['cache', 'storage'],
    pricing: { type: 'free' },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        title: { type: 'string', minLength: 1, maxLength: 512, description: 'Human-readable namespace title, unique in the account (default: the resource name).' },
      },
    },
    scopes: ['workers_kv:write'],
    env: { ...CREDENTIAL_ENV, CLOUDFLARE_KV_NAMESPACE_ID: 'resource.id' },
  }),
  service({
    id: 'r2:bucket',
    name: 'R2 bucket',
    description:
      'An R2 bucket: S3-compatible object storage with no egress fees. Creating it is free; Cloudflare bills usage above the monthly free tier (10 GB-month storage, 1 million Class A and 10 million Class B operations), ' +
      'e.g. Standard storage 0.015 USD per GB-month and Class A operations 4.50 USD per million. R2 must be enabled on the account once in the dashboard.',
    categories: ['storage'],
    pricing: { type: 'usage', amount: 450, currency: 'USD', unit: 'million Class A operations' },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        bucket_name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$', description: 'Bucket name, 3-63 lower-case letters, digits and hyphens (default: the resource name, underscores as hyphens).' },
        location_hint: { type: 'string', enum: [...LOCATION_HINTS], description: 'Where to place the bucket.' },
      },
    },
    scopes: ['workers_r2:write'],
    env: { ...CREDENTIAL_ENV, CLOUDFLARE_R2_BUCKET_NAME: 'resource.name' },
  }),
  service({
    id: 'd1:database',
    name: 'D1 database',
    description: 'A D1 serverless SQL database with SQLite semantics. Free to create; rows read and written and storage above the Workers Free allowance need Workers Paid.',
    categories: ['database'],
    pricing: { type: 'free' },
    config_schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        database_name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$', description: 'Database name (default: the resource name).' },
        primary_location_hint: { type: 'string', enum: [...LOCATION_HINTS], description: 'Region of the primary.' },
      },
    },
    scopes: ['d1:write'],
    env: { ...CREDENTIAL_ENV, CLOUDFLARE_D1_DATABASE_ID: 'resource.id' },
  }),
];
