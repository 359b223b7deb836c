import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

export default defineConfig({
  entry: { agentprov: 'src/cli/entry.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  splitting: false,
  shims: true,
  sourcemap: false,
  minify: false,
  // One file: every dependency is bundled except the native keychain binding,
  // which ships its own platform binary and is loaded at run time.
  noExternal: [/^(?!@napi-rs\/keyring)/],
  external: ['@napi-rs/keyring'],
  banner: {
    // CommonJS dependencies inside an ESM bundle still call require().
    js: "import { createRequire as __agentprovCreateRequire } from 'node:module'; const require = __agentprovCreateRequire(import.meta.url);",
  },
  define: { __AGENTPROV_VERSION__: JSON.stringify(pkg.version) },
});
