/**
 * Every file agentprov writes lives under one of these directories.
 * AGENTPROV_HOME moves all of them (tests, isolated sessions); otherwise the
 * platform's own config/cache/state locations are used.
 */
import { join } from 'node:path';
import envPaths from 'env-paths';

export interface Paths {
  config: string;
  cache: string;
  /** Vault file, journal, audit log, locks. */
  state: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): Paths {
  const home = env.AGENTPROV_HOME;
  if (home) return { config: join(home, 'config'), cache: join(home, 'cache'), state: join(home, 'state') };
  const p = envPaths('agentprov', { suffix: '' });
  return { config: p.config, cache: p.cache, state: p.data };
}

/** The non-secret config file (written by conf, read directly on fast paths). */
export function configFilePath(paths: Paths): string {
  return join(paths.config, 'config.json');
}
