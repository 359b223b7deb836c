// esbuild plugins shared by the bundle (tsup.config.ts) and the single
// executable (scripts/build-sea.mjs): start-up trims for Node 20, which has
// no compile cache, so every command pays for what its modules hold
// (README "Build").
import { dirname, join } from 'node:path';

/**
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
export const leanStartup = {
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

/**
 * zod's namespace export `z` carries `z.locales`: the error messages of
 * every language zod knows, 370 KB of the 760 KB zod chunk, parsed by every
 * command that validates anything (about 4 ms of CPU). agentprov speaks
 * English, zod's default (its schemas module registers `en` itself), so
 * here `locales` holds `en` only.
 */
export const englishOnlyZod = {
  name: 'agentprov-english-only-zod',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]node_modules[\\/]zod[\\/]v4[\\/]/.test(args.importer)
        ? { path: 'zod-locales', namespace: 'agentprov-english-only-zod', pluginData: join(dirname(args.importer), '..', 'locales') }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'agentprov-english-only-zod' }, (args) => ({
      contents: "export { default as en } from './en.js';",
      loader: 'js',
      resolveDir: args.pluginData,
    }));
  },
};
