/**
 * Non-secret settings (which orchestrator, which providers, deadlines),
 * stored with `conf` under the config dir. Read through zod: a file the user
 * edited by hand that no longer parses gives INVALID_CONFIG naming the field,
 * and is never overwritten.
 */
import { z } from 'zod';
import { AgentprovError } from '../cli/errors.js';

export const ConfigSchema = z.object({
  orchestrator: z
    .object({
      url: z.string().url().max(2048).optional(),
      issuer: z.string().url().max(2048),
      client_id: z.string().min(1).max(256),
      payment_rail: z.string().url().max(2048).optional(),
    })
    .optional(),
  providers: z
    .array(z.object({ id: z.string().max(64).optional(), url: z.string().url().max(2048), source: z.enum(['orchestrator', 'user', 'manifest']) }))
    .max(500)
    .default([]),
  catalog_deadline_ms: z.number().int().min(100).max(120_000).default(5000),
});
export type Config = z.infer<typeof ConfigSchema>;

export interface ConfigStore {
  read(): Config;
  write(next: Config): void;
  readonly path: string;
}

export async function openConfig(configDir: string): Promise<ConfigStore> {
  const { default: Conf } = await import('conf');
  const store = new Conf<Record<string, unknown>>({ projectName: 'agentprov', projectSuffix: '', cwd: configDir, configName: 'config' });
  return {
    path: store.path,
    read() {
      const parsed = ConfigSchema.safeParse(store.store);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new AgentprovError('INVALID_CONFIG', `the config file ${store.path} is invalid at "${issue?.path.join('.')}": ${issue?.message}`, {
          details: { path: store.path, field: issue?.path.join('.') },
          nextSteps: [`fix or remove ${store.path}`],
        });
      }
      return parsed.data;
    },
    write(next) {
      store.store = ConfigSchema.parse(next) as Record<string, unknown>;
    },
  };
}
