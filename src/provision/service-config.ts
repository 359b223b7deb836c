/**
 * A provision's `config`: parsed from `--config JSON` or repeated
 * `--param key=value`, then validated with ajv against the service's
 * `config_schema` from the catalog (the same schema the provider validates
 * with, docs/protocol.md §2). A mismatch is INVALID_CONFIG naming the field
 * as `config.<path>`. `--param` values are strings; ajv coerces them to the
 * types the schema declares (`--param size=3` for an integer).
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { AgentprovError } from '../core/errors.js';
import type { CatalogService } from '../catalog/service.js';
import { MAX_SCHEMA_DEPTH } from '../wire/provider.js';
import { MAX_JSON_DEPTH, tooDeepAt } from '../util/json-depth.js';
import { sanitizeLine } from '../util/sanitize.js';

const MAX_CONFIG_BYTES = 32 * 1024;
const PARAM_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

export interface ConfigIssue {
  field: string;
  message: string;
}

/** The raw config the user gave (not yet validated). */
export function parseConfigInput(opts: { config?: unknown; param?: unknown }): { config: Record<string, unknown>; fromParams: boolean } {
  const params = Array.isArray(opts.param) ? opts.param.map(String) : typeof opts.param === 'string' ? [opts.param] : [];
  if (opts.config !== undefined && params.length > 0) throw new AgentprovError('USAGE', 'use either --config JSON or --param key=value, not both');
  if (opts.config !== undefined) {
    const text = String(opts.config);
    if (text.length > MAX_CONFIG_BYTES) throw invalid([{ field: 'config', message: `larger than ${MAX_CONFIG_BYTES} bytes` }]);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw invalid([{ field: 'config', message: `--config is not valid JSON (${sanitizeLine((err as Error).message).slice(0, 120)})` }]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid([{ field: 'config', message: '--config must be a JSON object' }]);
    // It is validated (ajv), compared and written (journal, manifest): all of which recurse.
    const deep = tooDeepAt(raw);
    if (deep !== undefined) throw invalid([{ field: `config.${sanitizeLine(deep).slice(0, 80)}`, message: `nested deeper than ${MAX_JSON_DEPTH} levels` }]);
    return { config: raw as Record<string, unknown>, fromParams: false };
  }
  const config: Record<string, unknown> = {};
  for (const p of params) {
    const eq = p.indexOf('=');
    const key = eq > 0 ? p.slice(0, eq) : '';
    if (!PARAM_KEY.test(key)) throw new AgentprovError('USAGE', `--param wants key=value, not "${sanitizeLine(p).slice(0, 80)}"`, { nextSteps: ['agentprov add <provider>/<service> --param domain=mysite.test'] });
    if (key in config) throw new AgentprovError('USAGE', `--param ${key} given twice`);
    config[key] = p.slice(eq + 1);
  }
  return { config, fromParams: true };
}

/** Every schema violation (bounded), empty when the config is valid. May coerce `config` in place (--param). */
export function checkConfig(service: CatalogService, config: Record<string, unknown>, coerce: boolean): ConfigIssue[] {
  // The catalog bounds it already (catalog/validate.ts); this one may come from a cache file, and ajv's compile recurses.
  const deep = tooDeepAt(service.config_schema, MAX_SCHEMA_DEPTH);
  if (deep !== undefined) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `the config_schema of ${service.provider}/${service.id} nests deeper than ${MAX_SCHEMA_DEPTH} levels (at "${sanitizeLine(deep).slice(0, 80)}")`, {
      details: { provider: service.provider, service: service.id, field: 'config_schema' },
    });
  }
  const ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: coerce, validateFormats: false });
  let validate;
  try {
    validate = ajv.compile(service.config_schema);
  } catch (err) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `the config_schema of ${service.provider}/${service.id} is not a usable JSON Schema: ${sanitizeLine((err as Error).message).slice(0, 200)}`, {
      details: { provider: service.provider, service: service.id },
    });
  }
  if (validate(config)) return [];
  return (validate.errors ?? []).slice(0, 20).map((e) => ({ field: fieldOf(e), message: sanitizeLine(e.message ?? 'does not match the schema').slice(0, 200) }));
}

export function invalid(issues: ConfigIssue[], qualified?: string): AgentprovError {
  const first = issues[0]!;
  return new AgentprovError('INVALID_CONFIG', `${first.field}: ${first.message}`, {
    details: { field: first.field, issues },
    nextSteps: qualified ? [`agentprov catalog ${qualified}`] : [],
  });
}

function fieldOf(err: ErrorObject): string {
  const segments = err.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'required' && typeof params.missingProperty === 'string') segments.push(params.missingProperty);
  if (err.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') segments.push(params.additionalProperty);
  return sanitizeLine(['config', ...segments].join('.')).slice(0, 200);
}
