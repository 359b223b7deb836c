/**
 * Validates a provision's `config` against the service's published JSON
 * Schema with ajv: the catalog's `config_schema` is the only definition of
 * what a service accepts. Defaults in the schema are applied.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from './http.js';
import type { ServiceDefinition } from './types.js';

export class ConfigValidator {
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(services: ServiceDefinition[]) {
    const ajv = new Ajv({ strict: true, allErrors: false, useDefaults: true });
    for (const s of services) this.#validators.set(s.id, ajv.compile(s.config_schema));
  }

  /** Validates (and fills defaults into) `config`; throws a 400 naming `config.<path>`. */
  check(serviceId: string, config: Record<string, unknown>): void {
    const validate = this.#validators.get(serviceId);
    if (!validate) throw new Error(`no config schema compiled for ${serviceId}`);
    if (validate(config)) return;
    const err = validate.errors?.[0];
    const field = fieldOf(err);
    throw new ApiError(400, 'INVALID_REQUEST', `${field}: ${err?.message ?? 'does not match the service config_schema'}`, {
      field,
      details: err ? { keyword: err.keyword, params: err.params } : {},
    });
  }
}

function fieldOf(err: ErrorObject | undefined): string {
  if (!err) return 'config';
  const segments = err.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = err.params as Record<string, unknown>;
  if (err.keyword === 'required' && typeof params.missingProperty === 'string') segments.push(params.missingProperty);
  if (err.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') segments.push(params.additionalProperty);
  return ['config', ...segments].join('.');
}
