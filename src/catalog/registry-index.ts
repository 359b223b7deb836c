/**
 * A small index beside the catalog cache that remembers which providers the
 * registry resolved to, keyed by a fingerprint of its inputs (the config
 * file's and the manifest's path and file fingerprint, util/file-fingerprint.ts).
 * While the fingerprint holds, `catalog` skips reading and zod-parsing config
 * and manifest: with a fresh cache a warm run then loads neither zod nor the
 * HTTP client.
 */
import { currentFingerprint } from '../util/file-fingerprint.js';
import { join } from 'node:path';
import { configFilePath, type Paths } from '../core/paths.js';
import { findManifest } from '../project/locate.js';
import type { ProviderEntry } from './registry.js';
import { cacheDir, nameHash } from './cache.js';
import { writeJsonAtomic } from '../util/atomic-file.js';
import { readIndexFile } from '../util/index-file.js';


export interface RegistryIndex {
  v: 1;
  fingerprint: string;
  entries: ProviderEntry[];
  deadline_ms: number;
  warnings: string[];
}

function statKey(file: string | undefined): string {
  return file ? `${file}:${currentFingerprint(file) ?? 'absent'}` : '-';
}

export function registryFingerprint(paths: Paths, cwd: string): { fingerprint: string; file: string } {
  const manifest = findManifest(cwd);
  const fingerprint = `${statKey(configFilePath(paths))}|${statKey(manifest)}`;
  const file = join(cacheDir(paths.cache), `registry-${nameHash(manifest ?? '-')}.json`);
  return { fingerprint, file };
}

const SOURCES = new Set(['orchestrator', 'user', 'manifest']);
// Bounds of what loadRegistry can produce: at most 500 config and 200 manifest providers.
const MAX_ENTRIES = 700;
const isStr = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;

/** The index for `fingerprint`, or undefined when it is absent, stale or not what this module writes. */
export function readRegistryIndex(file: string, fingerprint: string): RegistryIndex | undefined {
  const r = readIndexFile(file, fingerprint);
  if (!r) return undefined;
  if (!Number.isInteger(r.deadline_ms) || (r.deadline_ms as number) < 100 || (r.deadline_ms as number) > 120_000) return undefined;
  if (!Array.isArray(r.entries) || r.entries.length > MAX_ENTRIES) return undefined;
  if (!Array.isArray(r.warnings) || r.warnings.length > MAX_ENTRIES + 1 || !r.warnings.every((w) => isStr(w, 8192))) return undefined;
  const entries: ProviderEntry[] = [];
  for (const e of r.entries as unknown[]) {
    if (typeof e !== 'object' || e === null) return undefined;
    const { url, source, id, catalogUrl, authorizationServers: vouched, protocol, clientId } = e as Record<string, unknown>;
    if (protocol !== undefined && protocol !== 'app') return undefined;
    if (clientId !== undefined && !isStr(clientId, 2048)) return undefined;
    if (!isStr(url, 8192) || !isStr(source, 16) || !SOURCES.has(source)) return undefined;
    if (id !== undefined && !isStr(id, 64)) return undefined;
    if (catalogUrl !== undefined && !isStr(catalogUrl, 2048)) return undefined;
    if (vouched !== undefined && !(Array.isArray(vouched) && vouched.length <= 4 && vouched.every((v) => isStr(v, 2048)))) return undefined;
    entries.push({
      url,
      source: source as ProviderEntry['source'],
      ...(id ? { id } : {}),
      ...(catalogUrl ? { catalogUrl } : {}),
      ...(vouched ? { authorizationServers: vouched as string[] } : {}),
      ...(protocol ? { protocol: 'app' as const } : {}),
      ...(clientId ? { clientId: clientId as string } : {}),
    });
  }
  return { v: 1, fingerprint, entries, deadline_ms: r.deadline_ms as number, warnings: r.warnings as string[] };
}

export function writeRegistryIndex(file: string, index: RegistryIndex): void {
  writeJsonAtomic(file, index);
}
