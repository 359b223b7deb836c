/**
 * A small index beside the catalog cache that remembers which providers the
 * registry resolved to, keyed by a fingerprint of its inputs (the config
 * file's and the manifest's identity, size and mtime). While the fingerprint
 * holds, `catalog` skips reading and zod-parsing config and manifest: with a
 * fresh cache a warm run then loads neither zod nor undici.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Paths } from '../paths.js';
import type { ProviderEntry } from '../providers/registry.js';
import { cacheDir } from './cache.js';

const MANIFEST_FILE = 'agentprov.json';

export interface RegistryIndex {
  v: 1;
  fingerprint: string;
  entries: ProviderEntry[];
  deadline_ms: number;
  warnings: string[];
}

function nearestManifest(cwd: string): string | undefined {
  for (let dir = cwd; ; ) {
    const candidate = join(dir, MANIFEST_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function statKey(file: string | undefined): string {
  if (!file) return '-';
  try {
    const st = statSync(file);
    return `${file}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return `${file}:absent`;
  }
}

export function registryFingerprint(paths: Paths, cwd: string): { fingerprint: string; file: string } {
  const manifest = nearestManifest(cwd);
  const fingerprint = `${statKey(join(paths.config, 'config.json'))}|${statKey(manifest)}`;
  const file = join(cacheDir(paths.cache), `registry-${createHash('sha256').update(manifest ?? '-').digest('hex').slice(0, 16)}.json`);
  return { fingerprint, file };
}

const SOURCES = new Set(['orchestrator', 'user', 'manifest']);

export function readRegistryIndex(file: string, fingerprint: string): RegistryIndex | undefined {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (typeof raw !== 'object' || raw === null) return undefined;
    const r = raw as Record<string, unknown>;
    if (r.v !== 1 || r.fingerprint !== fingerprint || typeof r.deadline_ms !== 'number') return undefined;
    if (!Array.isArray(r.entries) || !Array.isArray(r.warnings) || !r.warnings.every((w) => typeof w === 'string')) return undefined;
    const entries: ProviderEntry[] = [];
    for (const e of r.entries as unknown[]) {
      if (typeof e !== 'object' || e === null) return undefined;
      const { url, source, id } = e as Record<string, unknown>;
      if (typeof url !== 'string' || typeof source !== 'string' || !SOURCES.has(source)) return undefined;
      if (id !== undefined && typeof id !== 'string') return undefined;
      entries.push({ url, source: source as ProviderEntry['source'], ...(id ? { id } : {}) });
    }
    return { v: 1, fingerprint, entries, deadline_ms: r.deadline_ms, warnings: r.warnings as string[] };
  } catch {
    return undefined;
  }
}

export function writeRegistryIndex(file: string, index: RegistryIndex): void {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(index), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    /* an index is an optimisation */
  }
}
