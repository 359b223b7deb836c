/**
 * Where the project manifest is. Kept free of zod and of the manifest's
 * schema, so the warm catalog path can locate it without loading either.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const MANIFEST_FILE = 'agentprov.json';

/** The nearest agentprov.json from `cwd` upward, or undefined. */
export function findManifest(cwd: string): string | undefined {
  for (let dir = cwd; ; ) {
    const candidate = join(dir, MANIFEST_FILE);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
