/**
 * The project manifest, `agentprov.json`: which resources this project uses,
 * so `agentprov up` can replay it. Checked in; it never holds a secret.
 * Versioned, parsed with zod, written atomically. Updates (add, remove, up)
 * are read-modify-write under a cross-process lock, so concurrent agentprov
 * processes in one project never lose each other's resources; writeManifest
 * refuses any text that holds a secret. Finding the file is locate.ts (on
 * the warm catalog path, without zod).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import * as z from 'zod';
import type { Deps } from '../core/deps.js';
import { AgentprovError } from '../core/errors.js';
import type { Redactor } from '../core/io.js';
import { withFileLock } from '../util/file-lock.js';
import { findManifest, MANIFEST_FILE } from './locate.js';

export { findManifest, MANIFEST_FILE } from './locate.js';
const MAX_MANIFEST_BYTES = 1024 * 1024;

const Name = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

export const ManifestResource = z.object({
  name: Name,
  provider: z.string().min(1).max(64),
  service: z.string().min(1).max(128),
  config: z.record(z.string(), z.unknown()).default({}),
  id: z.string().max(256).optional(),
  status: z.string().max(32).optional(),
  created_at: z.string().max(64).optional(),
  charge: z
    .object({ amount: z.number().int().nonnegative(), currency: z.string().length(3), interval: z.string().max(16).optional() })
    .optional(),
});
export type ManifestResource = z.infer<typeof ManifestResource>;

export const Manifest = z.object({
  $schema: z.string().max(2048).optional(),
  version: z.literal(1),
  orchestrator: z.string().url().max(2048).optional(),
  providers: z.array(z.object({ id: z.string().max(64).optional(), url: z.string().url().max(2048) })).max(200).default([]),
  resources: z.array(ManifestResource).max(1000).default([]),
});
export type Manifest = z.infer<typeof Manifest>;

export function emptyManifest(orchestrator?: string): Manifest {
  return { version: 1, ...(orchestrator ? { orchestrator } : {}), providers: [], resources: [] };
}

export async function readManifest(path: string): Promise<Manifest> {
  const buf = await readFile(path);
  if (buf.length > MAX_MANIFEST_BYTES) throw invalid(path, '(root)', `larger than ${MAX_MANIFEST_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw invalid(path, '(root)', `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(path, issue?.path.join('.') || '(root)', issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/**
 * Write atomically. Refuses, before anything touches the disk, when the text
 * would contain a secret this process has seen.
 */
export async function writeManifest(path: string, manifest: Manifest, redactor?: Redactor): Promise<void> {
  const text = JSON.stringify(Manifest.parse(manifest), null, 2) + '\n';
  if (redactor && redactor.redact(text) !== text) {
    throw new AgentprovError('INTERNAL', `refusing to write ${path}: it would contain a secret`);
  }
  await writeFileAtomic(path, text, { mode: 0o644 });
}

function invalid(path: string, field: string, why: string): AgentprovError {
  return new AgentprovError('INVALID_MANIFEST', `${path} is invalid at "${field}": ${why}`, {
    details: { path, field },
    nextSteps: [`fix ${path} by hand; agentprov left it untouched`],
  });
}

/** The project's manifest path: the nearest agentprov.json upward, else one in the working directory (created on first write). */
export function manifestPathFor(deps: Pick<Deps, 'cwd'>): string {
  return findManifest(deps.cwd) ?? join(deps.cwd, MANIFEST_FILE);
}

export async function loadManifest(path: string): Promise<Manifest> {
  return existsSync(path) ? readManifest(path) : emptyManifest();
}

export async function updateManifest<R>(deps: Pick<Deps, 'io'>, path: string, fn: (m: Manifest) => R): Promise<R> {
  return withFileLock(path, { code: 'MANIFEST_LOCKED', what: 'the project manifest' }, async () => {
    const manifest = await loadManifest(path);
    const result = fn(manifest);
    await writeManifest(path, manifest, deps.io.redactor);
    return result;
  });
}

/** Insert or replace the resource with this name. */
export function upsertResource(m: Manifest, r: ManifestResource): void {
  const i = m.resources.findIndex((x) => x.name === r.name);
  if (i >= 0) m.resources[i] = r;
  else m.resources.push(r);
}

export function findResource(m: Manifest, name: string): ManifestResource | undefined {
  return m.resources.find((r) => r.name === name);
}

export function resourceNotFound(name: string, path: string): AgentprovError {
  return new AgentprovError('RESOURCE_NOT_FOUND', `no resource named "${name}" in ${path}`, {
    details: { name, manifest: path },
    nextSteps: ['agentprov list'],
  });
}
