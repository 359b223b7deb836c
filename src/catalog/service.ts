/**
 * The catalog's unit: one service of one provider, as every command sees
 * it, whatever the provider's protocol or whether its catalog is built in.
 */
import type { Service } from '../wire/provider.js';

/** A service as agentprov shows it (`catalog --json` `data.services[]`: provider, id, name, description, categories, pricing, config_schema, env) plus the wire fields it needs later. */
export interface CatalogService {
  provider: string;
  id: string;
  name: string;
  description: string;
  categories: string[];
  pricing: Service['pricing'];
  config_schema: Record<string, unknown>;
  env: Record<string, string>;
  scopes: string[];
  kind: Service['kind'];
  async: boolean;
  /** Services a provision of this one may move to with `update` (its own id: a config change in place). */
  allowed_updates?: string[];
}
