/**
 * The provider registry: which provider descriptors agentprov knows, from
 * three sources: the orchestrator's descriptor (written to the config at
 * sign-in, source "orchestrator"), the project manifest (`providers` in
 * agentprov.json) and the user (`agentprov providers add <url>`). A provider
 * is identified by its descriptor URL (`…/.well-known/agent-provisioning`);
 * its id is what that descriptor says.
 *
 * Reading needs no `conf`: the config file is read and zod-parsed directly,
 * so `catalog` from a warm cache stays cheap. Writes go through updateConfig
 * (config/settings.ts), under the config's lock.
 */
import { AgentprovError } from '../core/errors.js';
import { readConfigFile, type Config } from '../config/settings.js';
import { findManifest, readManifest } from '../project/manifest.js';
import { configFilePath, type Paths } from '../core/paths.js';

export const DESCRIPTOR_PATH = '/.well-known/agent-provisioning';

export type ProviderSource = 'orchestrator' | 'user' | 'manifest';

export interface ProviderEntry {
  url: string;
  id?: string;
  source: ProviderSource;
  /** The catalog URL last seen in its descriptor (config), fetched beside the descriptor when there is no cache. */
  catalogUrl?: string;
  /** Authorization servers off its origin that the orchestrator vouched for (src/wire/origin.ts). */
  authorizationServers?: string[];
  /** `app`: an APP 0.1d provider, `url` its base URL (docs/protocol.md §APP). */
  protocol?: 'app';
  /** APP: the CIMD URL given with `providers add --client-id`. */
  clientId?: string;
}

/** An APP base URL as typed: http(s), no user info, query or fragment, ending in `/`. */
export function normalizeAppBaseUrl(input: string): string {
  const url = new URL(normalizeProviderUrl(input).replace(/\/\.well-known\/agent-provisioning$/, '/'));
  url.search = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/**
 * A descriptor URL from what a user typed: a bare origin (or a path ending in
 * `/`) gets the well-known path appended; fragments and userinfo are refused.
 */
export function normalizeProviderUrl(input: string): string {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new AgentprovError('USAGE', `"${input}" is not a URL`, { nextSteps: ['agentprov providers add https://provider.example'] });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AgentprovError('USAGE', `"${input}" is not an http(s) URL`);
  if (url.username || url.password) throw new AgentprovError('USAGE', 'a provider URL must not carry a user name or password');
  url.hash = '';
  if (url.pathname === '/' || url.pathname === '') url.pathname = DESCRIPTOR_PATH;
  else if (url.pathname.endsWith('/')) url.pathname = url.pathname.replace(/\/+$/, '') + DESCRIPTOR_PATH;
  return url.href;
}


export interface Registry {
  entries: ProviderEntry[];
  config: Config;
  warnings: string[];
}

/** Every known provider, config first (orchestrator, then user), then the manifest; one entry per descriptor URL. */
export async function loadRegistry(opts: { paths: Paths; cwd: string }): Promise<Registry> {
  const config = readConfigFile(configFilePath(opts.paths));
  const warnings: string[] = [];
  const raw: ProviderEntry[] = [];
  const rank = { orchestrator: 0, user: 1, manifest: 2 } as const;
  for (const p of [...config.providers].sort((a, b) => rank[a.source] - rank[b.source])) {
    raw.push({
      url: p.url,
      source: p.source,
      ...(p.id ? { id: p.id } : {}),
      ...(p.catalog_url ? { catalogUrl: p.catalog_url } : {}),
      ...(p.source === 'orchestrator' && p.authorization_servers ? { authorizationServers: p.authorization_servers } : {}),
      ...(p.protocol ? { protocol: p.protocol } : {}),
      ...(p.client_id ? { clientId: p.client_id } : {}),
    });
  }
  const manifestPath = findManifest(opts.cwd);
  if (manifestPath) {
    try {
      const manifest = await readManifest(manifestPath);
      for (const p of manifest.providers) raw.push({ url: p.url, source: 'manifest', ...(p.id ? { id: p.id } : {}) });
    } catch (err) {
      warnings.push(`providers of ${manifestPath} ignored: ${(err as Error).message}`);
    }
  }
  const seen = new Set<string>();
  const entries: ProviderEntry[] = [];
  for (const e of raw) {
    let url: string;
    try {
      url = e.protocol === 'app' ? normalizeAppBaseUrl(e.url) : normalizeProviderUrl(e.url);
    } catch {
      warnings.push(`provider URL "${e.url}" (${e.source}) ignored: not a usable URL`);
      continue;
    }
    if (seen.has(url)) continue;
    seen.add(url);
    entries.push({ ...e, url });
  }
  return { entries, config, warnings };
}
