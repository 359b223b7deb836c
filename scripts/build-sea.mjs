#!/usr/bin/env node
/**
 * Build dist/sea/agentprov: a Node single executable application (SEA).
 *
 *   1. bundle src/cli/entry.ts into one minified CommonJS file (Node 20 SEA
 *      runs only CJS), with @napi-rs/keyring replaced by
 *      scripts/sea/keyring.cjs and the sandbox by scripts/sea/sandbox.cjs:
 *      the asset "program", with the V8 code cache made for it here (the
 *      asset "program-cache"); the main script is scripts/sea/entry.mjs,
 *      which answers --version and otherwise compiles the program;
 *   2. bundle the sandbox (src/sandbox/index.ts) on its own, and embed it as
 *      the SEA asset "sandbox" (compiled only by `agentprov sandbox`), with
 *      this platform's native keychain binding as the asset "keyring" (the
 *      shim extracts it and loads it with process.dlopen);
 *   3. node --experimental-sea-config → blob; copy node; inject with postject.
 *
 * Run via `npm run build:sea`; `--out <dir>` writes elsewhere than dist/sea.
 * Work happens in a private temp directory (a concurrent `tsup` cleans dist/),
 * and only agentprov and its bundles (main.cjs, program.cjs) land in the output directory.
 * Needs Node >= 20.12 built with the SEA fuse (official builds are), and the
 * platform package of @napi-rs/keyring installed.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Script } from 'node:vm';
import { build } from 'esbuild';
import postject from 'postject';
import { englishOnlyZod, leanStartup } from './build-plugins.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({ options: { out: { type: 'string' } } });
const out = resolve(args.out ?? join(root, 'dist', 'sea'));
const exeName = process.platform === 'win32' ? 'agentprov.exe' : 'agentprov';
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

class BuildError extends Error {}
const fail = (message) => {
  throw new BuildError(message);
};
const step = (what) => console.error(`build-sea: ${what}`);

/** The .node file of @napi-rs/keyring for this platform/arch (and libc). */
function nativeBinding() {
  const require = createRequire(join(root, 'package.json'));
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('@napi-rs/keyring/package.json'));
  } catch {
    fail('@napi-rs/keyring is not installed (run npm install)');
  }
  const libc = process.platform !== 'linux' ? undefined : process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  const prefix = `keyring-${process.platform}-${process.arch}`;
  // npm installs the platform package next to the main one (or nested under it).
  for (const scope of [dirname(pkgDir), join(pkgDir, 'node_modules', '@napi-rs')]) {
    if (!existsSync(scope)) continue;
    for (const name of readdirSync(scope).filter((n) => n === prefix || n.startsWith(`${prefix}-`))) {
      const meta = JSON.parse(readFileSync(join(scope, name, 'package.json'), 'utf8'));
      if (libc && meta.libc && !meta.libc.includes(libc)) continue;
      const file = join(scope, name, meta.main ?? '');
      if (file.endsWith('.node') && existsSync(file)) return file;
    }
  }
  fail(`no native binding of @napi-rs/keyring for ${process.platform}-${process.arch}${libc ? ` (${libc})` : ''}; ` +
    'install dependencies on this platform so its optional platform package is present');
}

/**
 * Start-up of the executable grows with the size of its main script (about
 * 6 ms per MB on Node 20, code cache or not: README "Build"), so the main
 * script is minified and holds no sandbox: the identity provider, rail and
 * providers (oidc-provider, koa and friends, half of the bundle) are the
 * asset "sandbox", compiled only when `agentprov sandbox` runs.
 */
const SANDBOX_SHIM = './scripts/sea/sandbox.cjs';

async function bundle(entry, outfile, version, extra = {}) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    // Error classes are told apart by name in places (e.g. 'InvalidDocument'): keep every name.
    keepNames: true,
    plugins: [leanStartup, englishOnlyZod],
    // import.meta is empty in CJS: give its common fields their CJS meaning.
    banner: { js: 'var __agentprov_import_meta_url = require("node:url").pathToFileURL(__filename).href;' },
    define: {
      __AGENTPROV_VERSION__: JSON.stringify(version),
      'import.meta.url': '__agentprov_import_meta_url',
      'import.meta.filename': '__filename',
      'import.meta.dirname': '__dirname',
    },
    logLevel: 'silent',
    ...extra,
  }).catch((err) => fail(`esbuild failed:\n${err.message}`));
  for (const w of result.warnings) step(`esbuild warning: ${w.text} (${w.location?.file}:${w.location?.line})`);
  if (result.warnings.some((w) => w.id === 'empty-import-meta')) {
    fail('the bundle uses an import.meta field that CJS lacks; map it in the define of scripts/build-sea.mjs');
  }
}

/** The sandbox command's import of src/sandbox/index.js, answered by the shim that compiles the asset. */
const sandboxAsAsset = {
  name: 'agentprov-sea-sandbox-asset',
  setup(b) {
    b.onResolve({ filter: /\/sandbox\/index\.js$/ }, (args) =>
      /[\\/]src[\\/]cli[\\/]commands[\\/]sandbox\.ts$/.test(args.importer) ? { path: join(root, SANDBOX_SHIM) } : undefined,
    );
  },
};

async function main() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 12)) fail(`Node ${process.version} cannot embed SEA assets; use Node >= 20.12`);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const binding = nativeBinding();
  const work = mkdtempSync(join(tmpdir(), 'agentprov-sea-build-'));
  try {
    const mainFile = join(work, 'main.cjs');
    const config = join(work, 'sea-config.json');
    const blob = join(work, 'sea-prep.blob');
    const exe = join(work, exeName);

    step('bundling scripts/sea/entry.mjs (the main script)');
    await bundle('scripts/sea/entry.mjs', mainFile, version);
    const programFile = join(work, 'program.cjs');
    step(`bundling src/cli/entry.ts (the asset "program": cjs, node20, minified) with the keychain binding ${binding}`);
    await bundle('src/cli/entry.ts', programFile, version, {
      alias: { '@napi-rs/keyring': './scripts/sea/keyring.cjs' },
      plugins: [leanStartup, englishOnlyZod, sandboxAsAsset],
    });
    // V8's code cache of the program, as the main script will compile it (same wrapper, same file name).
    const cacheFile = join(work, 'program.cache');
    const { FILENAME, wrap } = createRequire(import.meta.url)('./sea/program.cjs');
    writeFileSync(cacheFile, new Script(wrap(readFileSync(programFile, 'utf8')), { filename: FILENAME }).createCachedData());
    const sandboxFile = join(work, 'sandbox.cjs');
    step('bundling src/sandbox/index.ts (the asset "sandbox")');
    await bundle('src/sandbox/index.ts', sandboxFile, version);

    step('writing the SEA blob');
    const seaConfig = { main: mainFile, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: { keyring: binding, sandbox: sandboxFile, program: programFile, 'program-cache': cacheFile } };
    writeFileSync(config, JSON.stringify(seaConfig, null, 2));
    execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });

    step(`injecting it into a copy of ${process.execPath}`);
    copyFileSync(process.execPath, exe);
    chmodSync(exe, 0o755);
    if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', exe]);
    await postject
      .inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE, machoSegmentName: process.platform === 'darwin' ? 'NODE_SEA' : undefined })
      .catch((err) => fail(`postject failed: ${err.message} (is ${process.execPath} a Node build with the SEA fuse?)`));
    if (process.platform === 'darwin') execFileSync('codesign', ['--sign', '-', exe]);

    mkdirSync(out, { recursive: true });
    copyFileSync(mainFile, join(out, 'main.cjs'));
    copyFileSync(programFile, join(out, 'program.cjs'));
    // Copy, then rename: replaces even a running executable, never leaves half of one.
    copyFileSync(exe, join(out, `.${exeName}.${process.pid}`));
    renameSync(join(out, `.${exeName}.${process.pid}`), join(out, exeName));
    step(`done: ${join(out, exeName)} (${(statSync(exe).size / 1e6).toFixed(1)} MB)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`build-sea: ${err instanceof BuildError ? err.message : err.stack}`);
  process.exit(1);
});
