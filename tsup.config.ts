import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { englishOnlyZod, leanStartup } from './scripts/build-plugins.mjs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

export default defineConfig({
  entry: { agentprov: 'src/cli/entry.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: false, // npm run build passes --clean; test runs rebuild in place so parallel runs never see an empty dist
  splitting: true,
  shims: true,
  sourcemap: false,
  minify: false,
  // Every dependency is bundled except the native keychain binding, which
  // ships its own platform binary. Code splitting keeps start-up cheap on
  // Node 20 (no compile cache there): dist/agentprov.js holds the program and
  // its command table; each command's code, and the sandbox, sit in chunks
  // loaded only when that command runs. The single-file artifact is the SEA
  // executable (npm run build:sea). See README "Build".
  noExternal: [/^(?!@napi-rs\/keyring)/],
  external: ['@napi-rs/keyring'],
  // Start-up trims for Node 20 (no compile cache): scripts/build-plugins.mjs.
  esbuildPlugins: [leanStartup, englishOnlyZod],
  // tsup's own plugin would turn every `node:` import external before ours sees it.
  removeNodeProtocol: false,
  banner: {
    // CommonJS dependencies inside an ESM bundle still call require().
    js: "import { createRequire as __agentprovCreateRequire } from 'node:module'; const require = __agentprovCreateRequire(import.meta.url);",
  },
  define: { __AGENTPROV_VERSION__: JSON.stringify(pkg.version) },
});
