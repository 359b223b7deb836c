/**
 * Non-secret settings (which orchestrator, which providers, deadlines),
 * stored with `conf` under the config dir. Read through zod: a file the user
 * edited by hand that no longer parses gives INVALID_CONFIG naming the field,
 * and is never overwritten.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { AgentprovError } from '../core/errors.js';

export const ConfigSchema = z.object({
  orchestrator: z
    .object({
      url: z.string().url().max(2048).optional(),
      issuer: z.string().url().max(2048),
      client_id: z.string().min(1).max(256),
      payment_rail: z.string().url().max(2048).optional(),
      /** The orchestrator's Cloudflare OAuth client id (its descriptor's `cloudflare_client_id`). */
      cloudflare_client_id: z.string().min(1).max(255).optional(),
    })
    .optional(),
  providers: z
    .array(
      z.object({
        id: z.string().max(64).optional(),
        url: z.string().url().max(2048),
        source: z.enum(['orchestrator', 'user', 'manifest']),
        /** The catalog URL the descriptor named when the provider was added: lets a cold catalog fetch run beside the descriptor's. */
        catalog_url: z.string().url().max(2048).optional(),
        /** Authorization servers off the descriptor's origin that the orchestrator vouched for (source "orchestrator" only). */
        authorization_servers: z.array(z.string().url().max(2048)).max(4).optional(),
        /** `app`: the URL is an APP 0.1d base URL (src/providers/app/); absent: an agentprov protocol descriptor. */
        protocol: z.enum(['app']).optional(),
        /** APP: the Client ID Metadata Document URL agentprov registers with (else the orchestrator's). */
        client_id: z.string().url().max(2048).optional(),
      }),
    )
    .max(500)
    .default([]),
  catalog_deadline_ms: z.number().int().min(100).max(120_000).default(5000),
});
export type Config = z.infer<typeof ConfigSchema>;

const MAX_CONFIG_BYTES = 1024 * 1024;
/** conf's name for the file: `<config dir>/config.json` (paths.ts configFilePath says the same). */
const CONFIG_NAME = 'config';

/** Parse a config document; INVALID_CONFIG names the file and the field. */
export function parseConfig(raw: unknown, path: string): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidConfig(path, `is invalid at "${issue?.path.join('.')}": ${issue?.message}`, issue?.path.join('.'));
  }
  return parsed.data;
}

/** Read the config file without conf (read-only fast paths). Absent → defaults. */
export function readConfigFile(path: string): Config {
  let text: string;
  try {
    const st = statSync(path);
    if (st.size > MAX_CONFIG_BYTES) throw invalidConfig(path, `is larger than ${MAX_CONFIG_BYTES} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ConfigSchema.parse({});
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalidConfig(path, 'is not valid JSON');
  }
  return parseConfig(raw, path);
}

function invalidConfig(path: string, why: string, field?: string): AgentprovError {
  return new AgentprovError('INVALID_CONFIG', `the config file ${path} ${why}`, {
    details: { path, ...(field !== undefined ? { field } : {}) },
    nextSteps: [`fix or remove ${path}`],
  });
}

export interface ConfigStore {
  read(): Config;
  write(next: Config): void;
  readonly path: string;
}

/**
 * Read-modify-write of the config under a cross-process lock, so two
 * commands changing it at once (two `providers add`, an `init` beside one)
 * never lose each other's change. `fn` edits the config in place; it is
 * written only if `fn` returns without throwing and changed something.
 */
export async function updateConfig<R>(configDir: string, fn: (config: Config) => R | Promise<R>): Promise<R> {
  const { withFileLock } = await import('../util/file-lock.js');
  return withFileLock(join(configDir, `${CONFIG_NAME}.json`), { code: 'CONFIG_LOCKED', what: 'the config file' }, async () => {
    const store = await openConfig(configDir);
    const config = store.read();
    const before = JSON.stringify(config);
    const result = await fn(config);
    if (JSON.stringify(config) !== before) store.write(config);
    return result;
  });
}

export async function openConfig(configDir: string): Promise<ConfigStore> {
  const { default: Conf } = await import('conf');
  const store = new Conf<Record<string, unknown>>({ projectName: 'agentprov', projectSuffix: '', cwd: configDir, configName: CONFIG_NAME });
  return {
    path: store.path,
    read() {
      return parseConfig(store.store, store.path);
    },
    write(next) {
      store.store = ConfigSchema.parse(next) as Record<string, unknown>;
    },
  };
}
