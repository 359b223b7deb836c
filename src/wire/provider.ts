/**
 * Wire schemas of the agent provider protocol (docs/protocol.md): the
 * descriptor, the catalog, provisioning and the RFC 9728 protected resource
 * metadata. The single source shared by the CLI (parsing what providers send)
 * and the sandbox providers (parsing what clients send). Every string and
 * array is bounded; objects a provider sends are loose so fields can be added.
 */
import * as z from 'zod';
import { MAX_JSON_DEPTH, tooDeepAt } from '../util/json-depth.js';

const MAX_URL = 2048;
const httpUrl = z.url({ protocol: /^https?$/ }).max(MAX_URL);

/** A provider id: lowercase DNS-label-like, e.g. `localcloud`. */
export const ProviderIdSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/);
/** A service id `<product>:<offering>`, e.g. `registrar:domain`. */
export const ServiceIdSchema = z.string().max(100).regex(/^[a-z0-9][a-z0-9-]*:[a-z0-9][a-z0-9-]*$/);
/** OAuth scope token (RFC 6749 §3.3 scope-token, restricted to printable ASCII without space). */
export const ScopeSchema = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/);
/** ISO 4217 code, upper case. The sandbox uses only USD. */
export const CurrencySchema = z.string().regex(/^[A-Z]{3}$/);
/** Integer amount in minor units (cents). */
export const AmountSchema = z.number().int().min(0).max(100_000_000);
export const IntervalSchema = z.enum(['month', 'year']);

// ---- §1 Descriptor: GET /.well-known/agent-provisioning -------------------

export const ProviderDescriptorSchema = z.looseObject({
  provider_id: ProviderIdSchema,
  name: z.string().min(1).max(200),
  terms_url: httpUrl,
  terms_version: z.string().min(1).max(64),
  catalog_url: httpUrl,
  provisioning_endpoint: httpUrl,
  /** RFC 9728 resource identifier of the provisioning API. */
  resource: httpUrl,
  /** Issuer of the provider's authorization server (RFC 8414). */
  authorization_server: httpUrl.optional(),
  /** RFC 9728 metadata URL, for convenience. */
  protected_resource_metadata: httpUrl.optional(),
  /** Pre-registered public client id for agentprov, when the AS offers no RFC 7591 registration. */
  client_id: z.string().min(1).max(255).optional(),
});
export type ProviderDescriptor = z.infer<typeof ProviderDescriptorSchema>;

// ---- §2 Catalog: GET <catalog_url> ---------------------------------------

export const PricingSchema = z
  .looseObject({
    type: z.enum(['free', 'one_time', 'recurring', 'usage']),
    amount: AmountSchema.optional(),
    currency: CurrencySchema.optional(),
    interval: IntervalSchema.optional(),
    /** For `usage`: what one unit is, e.g. `request`. */
    unit: z.string().max(64).optional(),
  })
  .refine((p) => p.type === 'free' || (p.amount !== undefined && p.currency !== undefined), {
    message: 'paid pricing needs amount and currency',
    path: ['amount'],
  })
  .refine((p) => p.type !== 'recurring' || p.interval !== undefined, {
    message: 'recurring pricing needs an interval',
    path: ['interval'],
  });
export type Pricing = z.infer<typeof PricingSchema>;

/** Environment variable name a credential is exported as by `agentprov run`. */
export const EnvNameSchema = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/);
/** Where the value comes from: the access token, the account id, or a resource attribute. */
export const EnvSourceSchema = z.string().regex(/^(access_token|account_id|resource\.[a-z][a-z0-9_]{0,63})$/);

const MAX_SCHEMA_BYTES = 16 * 1024;
/** How deeply a config_schema may nest (a service nests it one level down in a catalog's service, two more). */
export const MAX_SCHEMA_DEPTH = MAX_JSON_DEPTH - 3;
/** A JSON Schema (draft 2020-12 subset) object, at most MAX_SCHEMA_DEPTH levels deep and 16 KiB serialized. */
export const JsonSchemaObjectSchema = z
  .record(z.string().max(128), z.unknown())
  // Depth first (without recursion), and nothing after it when it fails: JSON.stringify recurses.
  .refine((s) => tooDeepAt(s, MAX_SCHEMA_DEPTH) === undefined, { message: `config_schema nested deeper than ${MAX_SCHEMA_DEPTH} levels`, abort: true })
  .refine((s) => JSON.stringify(s).length <= MAX_SCHEMA_BYTES, { message: 'config_schema larger than 16 KiB' });

export const ServiceSchema = z.looseObject({
  id: ServiceIdSchema,
  name: z.string().min(1).max(200),
  description: z.string().max(2000),
  categories: z.array(z.string().min(1).max(40)).max(10),
  pricing: PricingSchema,
  config_schema: JsonSchemaObjectSchema,
  scopes: z.array(ScopeSchema).max(20),
  env: z.record(EnvNameSchema, EnvSourceSchema).refine((e) => Object.keys(e).length <= 20, {
    message: 'at most 20 env entries',
  }),
  /** `resource`: something that exists and can be deleted; `plan`: a subscription on the account. */
  kind: z.enum(['resource', 'plan']),
  /** true: POST answers 202 and the provision must be polled. */
  async: z.boolean(),
  /**
   * The services a provision of this service may be moved to with an update
   * (docs/protocol.md §4.4); its own id allows a config change in place.
   * Absent (older catalogs) or empty: no update.
   */
  allowed_updates: z.array(ServiceIdSchema).max(50).optional(),
});
export type Service = z.infer<typeof ServiceSchema>;

export const CatalogSchema = z.looseObject({
  provider_id: ProviderIdSchema,
  services: z.array(ServiceSchema).max(500),
});
export type Catalog = z.infer<typeof CatalogSchema>;

// ---- §3 RFC 9728 protected resource metadata -------------------------------

export const ProtectedResourceMetadataSchema = z.looseObject({
  resource: httpUrl,
  authorization_servers: z.array(httpUrl).min(1).max(10),
  scopes_supported: z.array(ScopeSchema).max(100).optional(),
  bearer_methods_supported: z.array(z.enum(['header', 'body', 'query'])).max(3).optional(),
  resource_name: z.string().max(200).optional(),
  resource_documentation: httpUrl.optional(),
});
export type ProtectedResourceMetadata = z.infer<typeof ProtectedResourceMetadataSchema>;

// ---- §4 Provisioning -------------------------------------------------------

/** `Idempotency-Key` request header value: 1-255 visible ASCII characters. */
export const IdempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/);
/** A human-chosen resource name, unique only in the user's project. */
export const ResourceNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/);
export const PaymentTokenSchema = z.string().min(1).max(512);
export const MAX_PROVISION_BODY_BYTES = 64 * 1024;

export const ProvisionRequestSchema = z.object({
  service: ServiceIdSchema,
  name: ResourceNameSchema,
  config: z.record(z.string().max(128), z.unknown()).default({}),
  /** Single-use payment token from the orchestrator's rail; required for paid services. */
  payment_token: PaymentTokenSchema.optional(),
});
export type ProvisionRequest = z.infer<typeof ProvisionRequestSchema>;

/** §4.4 Update: POST <provisioning_endpoint>/<id>/update with an Idempotency-Key. */
export const ProvisionUpdateRequestSchema = z.object({
  /** The service to move to (the provision's own for a config change). */
  service: ServiceIdSchema,
  config: z.record(z.string().max(128), z.unknown()).default({}),
  payment_token: PaymentTokenSchema.optional(),
});
export type ProvisionUpdateRequest = z.infer<typeof ProvisionUpdateRequestSchema>;

export const ChargeSchema = z.looseObject({
  amount: AmountSchema,
  currency: CurrencySchema,
  interval: IntervalSchema.optional(),
});
export type Charge = z.infer<typeof ChargeSchema>;

/** Resource attributes: flat, scalar, bounded (e.g. url, hostname, domain). */
export const ResourceAttributesSchema = z
  .record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/), z.union([z.string().max(2048), z.number(), z.boolean()]))
  .refine((r) => Object.keys(r).length <= 50, { message: 'at most 50 resource attributes' });

export const ProvisionStatusSchema = z.enum(['pending', 'active', 'failed', 'deleted']);
export type ProvisionStatus = z.infer<typeof ProvisionStatusSchema>;

export const ProvisionSchema = z.looseObject({
  id: z.string().min(1).max(128),
  service: ServiceIdSchema,
  name: ResourceNameSchema,
  status: ProvisionStatusSchema,
  created_at: z.iso.datetime(),
  resource: ResourceAttributesSchema,
  charge: ChargeSchema.optional(),
  /** §4.4: what an update gave back (a provider that refunds nothing leaves it out). */
  refund: ChargeSchema.optional(),
  /** §4.4: when the provision was last updated. */
  updated_at: z.iso.datetime().optional(),
  /** Present while `pending`: where to GET the current state. */
  poll_url: httpUrl.optional(),
});
export type Provision = z.infer<typeof ProvisionSchema>;

export const ProvisionListSchema = z.looseObject({
  provisions: z.array(ProvisionSchema).max(1000),
});
export type ProvisionList = z.infer<typeof ProvisionListSchema>;

export const ProvisionDeletedSchema = z.looseObject({
  id: z.string().min(1).max(128),
  status: z.literal('deleted'),
});

// ---- §4.5 Deep link: POST <provisioning_endpoint>/<id>/deep_link ------------------

/** Why a deep link is asked for; `dashboard` (the resource's page in the provider's console) is the one defined. */
export const DeepLinkPurposeSchema = z.enum(['dashboard']);
export const DeepLinkRequestSchema = z.object({ purpose: DeepLinkPurposeSchema.default('dashboard') });
export type DeepLinkRequest = z.infer<typeof DeepLinkRequestSchema>;
/** Largest deep link request body a provider reads. */
export const MAX_DEEP_LINK_BODY_BYTES = 1024;

/** A single-use sign-in link for the human; `url` is a secret (it signs whoever holds it in) until used or expired. */
export const DeepLinkSchema = z.looseObject({
  url: httpUrl,
  expires_at: z.iso.datetime(),
  purpose: DeepLinkPurposeSchema.optional(),
});
export type DeepLink = z.infer<typeof DeepLinkSchema>;

// ---- Errors ----------------------------------------------------------------

/** Stable error codes of the provider protocol (docs/protocol.md §Errors). */
export const PROVIDER_ERROR_CODES = [
  'INVALID_REQUEST',
  'UNAUTHORIZED',
  'INSUFFICIENT_SCOPE',
  'NOT_FOUND',
  'SERVICE_NOT_FOUND',
  'PAYMENT_REQUIRED',
  'PAYMENT_DECLINED',
  'PAYMENT_RAIL_UNAVAILABLE',
  'IDEMPOTENCY_KEY_REUSED',
  'IDEMPOTENCY_IN_PROGRESS',
  'DOMAIN_UNAVAILABLE',
  'QUOTA_EXCEEDED',
  'UPDATE_NOT_ALLOWED',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'METHOD_NOT_ALLOWED',
  'SERVICE_UNAVAILABLE',
  'INTERNAL',
] as const;
export type ProviderErrorCode = (typeof PROVIDER_ERROR_CODES)[number];

/** Error body. `code` is an open set: clients must treat unknown codes as PROVIDER_ERROR. */
export const ProviderErrorBodySchema = z.looseObject({
  error: z.looseObject({
    code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
    message: z.string().max(2000),
    /** Dotted path of the offending request field, e.g. `config.domain`, `Idempotency-Key`. */
    field: z.string().max(256).optional(),
    details: z.record(z.string().max(64), z.unknown()).optional(),
  }),
  /** With PAYMENT_REQUIRED: what a payment token must cover. */
  quote: ChargeSchema.optional(),
});
export type ProviderErrorBody = z.infer<typeof ProviderErrorBodySchema>;
