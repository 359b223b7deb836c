/** Bundle a TypeScript fixture into a runnable .mjs (for child processes). */
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT } from './cli.js';

export async function bundleFixture(entry: string): Promise<string> {
  const outDir = join(ROOT, 'node_modules', '.cache', 'agentprov-test');
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, basename(entry).replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    external: ['@napi-rs/keyring'],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}
