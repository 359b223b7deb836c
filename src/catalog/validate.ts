/**
 * Turning a provider's bytes into services we can print: JSON.parse under a
 * size cap, zod for the descriptor, the catalog envelope and each service on
 * its own, so one bad service is dropped (with a warning naming provider,
 * service and field) while the rest stay. Every string a provider sent is
 * stripped of control sequences and bidi controls here, before caching, so
 * neither the terminal nor a JSON reader ever sees them.
 */
import * as z from 'zod';
import { MAX_JSON_DEPTH, tooDeepAt } from '../util/json-depth.js';
import { sanitizeLine, sanitizeText } from '../util/sanitize.js';
import { ProviderDescriptorSchema, ProviderIdSchema, ServiceSchema, type ProviderDescriptor, type Service } from '../wire/provider.js';
import { droppedServiceWarning } from './dropped.js';
import type { CatalogService } from './service.js';

export const MAX_SERVICES = 500;

export class InvalidDocument extends Error {
  override readonly name = 'InvalidDocument';
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new InvalidDocument(`${what} is not valid JSON (${sanitizeLine((err as Error).message).slice(0, 120)})`);
  }
}

function fieldText(field: string, why: string): string {
  return `field "${sanitizeLine(field).slice(0, 80)}": ${sanitizeLine(why).slice(0, 160)}`;
}

function issueText(error: z.ZodError): string {
  const issue = error.issues[0];
  return fieldText(issue?.path.length ? issue.path.join('.') : '(root)', issue?.message ?? 'invalid');
}

/** Depth first, before zod or anything else recurses into `value`. */
function assertDepth(value: unknown, what: string, max = MAX_JSON_DEPTH): void {
  const at = tooDeepAt(value, max);
  if (at !== undefined) throw new InvalidDocument(`invalid ${what}: ${fieldText(at, `nested deeper than ${max} levels`)}`);
}

export function parseDescriptor(buf: Buffer): ProviderDescriptor {
  return parseDescriptorValue(parseJson(buf, 'descriptor'));
}

/** A descriptor already parsed from JSON (a remembered one), through the same schema. */
export function parseDescriptorValue(value: unknown): ProviderDescriptor {
  assertDepth(value, 'descriptor');
  const parsed = ProviderDescriptorSchema.safeParse(value);
  if (!parsed.success) throw new InvalidDocument(`invalid descriptor: ${issueText(parsed.error)}`);
  return parsed.data;
}

const CatalogEnvelope = z.looseObject({ provider_id: ProviderIdSchema, services: z.array(z.unknown()) });

/** Deep copy with every string (keys too) stripped of control sequences; depth-bounded. */
export function sanitizeDeep(value: unknown, depth = 0): unknown {
  if (depth > 32) return null;
  if (typeof value === 'string') return sanitizeText(value);
  if (Array.isArray(value)) return value.map((v) => sanitizeDeep(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[sanitizeText(k)] = sanitizeDeep(v, depth + 1);
    return out;
  }
  return value;
}

export interface ParsedCatalog {
  services: CatalogService[];
  warnings: string[];
}

/** Parse a catalog body for `providerId`; throws InvalidDocument when nothing in it is usable. */
export function parseCatalog(buf: Buffer, providerId: string): ParsedCatalog {
  const doc = parseJson(buf, 'catalog');
  const listsServices = typeof doc === 'object' && doc !== null && Array.isArray((doc as { services?: unknown }).services);
  // The document around the services as a whole; each service on its own below (a too-deep one is dropped alone).
  assertDepth(listsServices ? { ...(doc as object), services: [] } : doc, 'catalog');
  const env = CatalogEnvelope.safeParse(doc);
  if (!env.success) throw new InvalidDocument(`invalid catalog: ${issueText(env.error)}`);
  if (env.data.provider_id !== providerId) {
    throw new InvalidDocument(`catalog names provider "${env.data.provider_id}", its descriptor "${providerId}"`);
  }
  const warnings: string[] = [];
  const raw = env.data.services;
  if (raw.length > MAX_SERVICES) warnings.push(`provider ${providerId}: catalog lists ${raw.length} services; only the first ${MAX_SERVICES} are read`);
  const seen = new Set<string>();
  const services: CatalogService[] = [];
  for (const [i, item] of raw.slice(0, MAX_SERVICES).entries()) {
    const rawId = item && typeof item === 'object' && typeof (item as { id?: unknown }).id === 'string' ? (item as { id: string }).id : `#${i}`;
    const label = sanitizeLine(rawId).slice(0, 100);
    // A service sits two levels down (root, services): the whole document stays within MAX_JSON_DEPTH.
    const deep = tooDeepAt(item, MAX_JSON_DEPTH - 2);
    if (deep !== undefined) {
      warnings.push(droppedServiceWarning(providerId, label, fieldText(deep, `nested deeper than ${MAX_JSON_DEPTH - 2} levels`)));
      continue;
    }
    const parsed = ServiceSchema.safeParse(item);
    if (!parsed.success) {
      warnings.push(droppedServiceWarning(providerId, label, issueText(parsed.error)));
      continue;
    }
    const s = parsed.data;
    if (seen.has(s.id)) {
      warnings.push(droppedServiceWarning(providerId, s.id, 'duplicate id (the first one is kept)'));
      continue;
    }
    seen.add(s.id);
    services.push({
      provider: providerId,
      id: s.id,
      name: sanitizeLine(s.name),
      description: sanitizeText(s.description).trim(),
      categories: s.categories.map(sanitizeLine).filter(Boolean),
      pricing: sanitizeDeep(s.pricing) as CatalogService['pricing'],
      config_schema: sanitizeDeep(s.config_schema) as Record<string, unknown>,
      env: { ...s.env },
      scopes: [...s.scopes],
      kind: s.kind,
      async: s.async,
      ...(s.allowed_updates ? { allowed_updates: [...s.allowed_updates] } : {}),
    });
  }
  return { services, warnings };
}

/** A small, valid descriptor and catalog in the wire format, for primeValidators. */
const SAMPLE_DESCRIPTOR = Buffer.from(
  JSON.stringify({
    provider_id: 'sample',
    name: 'Sample',
    terms_url: 'https://sample.example/terms',
    terms_version: '1',
    catalog_url: 'https://sample.example/catalog',
    provisioning_endpoint: 'https://sample.example/v1/provisions',
    resource: 'https://sample.example',
  }),
);
const SAMPLE_CATALOG = Buffer.from(
  JSON.stringify({
    provider_id: 'sample',
    services: [
      {
        id: 'kv:namespace',
        name: 'Sample',
        description: 'A sample service.',
        categories: ['storage'],
        pricing: { type: 'recurring', amount: 100, currency: 'USD', interval: 'month' },
        config_schema: { type: 'object', properties: { name: { type: 'string', maxLength: 63 } }, additionalProperties: false },
        scopes: ['provision'],
        env: { SAMPLE_TOKEN: 'access_token' },
        kind: 'resource',
        async: false,
      },
    ],
  }),
);

/**
 * Run the validators once on a sample. zod builds much of a schema lazily
 * and compiles its fast path on first use, which makes the first parse of
 * each schema several times slower than the next. A cold `catalog` calls
 * this while its requests are in flight, so that cost is paid during the
 * round trip instead of after the answers arrive.
 */
export function primeValidators(): ParsedCatalog {
  parseDescriptor(SAMPLE_DESCRIPTOR);
  return parseCatalog(SAMPLE_CATALOG, 'sample');
}
