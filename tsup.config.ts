import { readFileSync } from 'node:fs';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

/**
 * Start-up trims for Node 20, which has no compile cache: every command
 * pays for what the entry chunk loads (README "Build").
 *
 * - `import process from 'node:process'` (env-paths, on every command's
 *   path) makes Node build an ESM facade of `process`, which reads every
 *   getter of it, creating process.stdin and friends: about 3 ms. The
 *   default export is the global `process`, so such imports get a module
 *   that says exactly that. Named imports are left to Node (esbuild would
 *   fail the build if one were routed here, as this module has none).
 * - commander requires node:child_process at load (for executable
 *   subcommands, which agentprov has none of), which pulls in net and
 *   streams: about 2.5 ms. Inside commander it is loaded on first use.
 */
const leanStartup: Plugin = {
  name: 'agentprov-lean-startup',
  setup(build) {
    build.onResolve({ filter: /^(node:)?process$/ }, (args) =>
      args.kind === 'import-statement' ? { path: 'process', namespace: 'agentprov-global-process' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'agentprov-global-process' }, () => ({ contents: 'export default globalThis.process;', loader: 'js' }));
    build.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'agentprov-lazy-child-process' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'agentprov-lazy-child-process' }, () => ({
      contents: "module.exports = new Proxy({}, { get: (_, key) => require('node:child_process')[key] });",
      loader: 'js',
      resolveDir: process.cwd(),
    }));
  },
};

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
  esbuildPlugins: [leanStartup],
  // tsup's own plugin would turn every `node:` import external before ours sees it.
  removeNodeProtocol: false,
  banner: {
    // CommonJS dependencies inside an ESM bundle still call require().
    js: "import { createRequire as __agentprovCreateRequire } from 'node:module'; const require = __agentprovCreateRequire(import.meta.url);",
  },
  define: { __AGENTPROV_VERSION__: JSON.stringify(pkg.version) },
});
