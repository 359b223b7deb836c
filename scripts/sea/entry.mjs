// The single executable's entry. `--version` is answered here, before any of
// the program is initialised, as bin/agentprov.js does for the bundle; every
// other command starts src/cli/entry.ts. esbuild turns the import() below
// into a call of that module's initialiser, so nothing of it runs for
// `--version`. __AGENTPROV_VERSION__ is defined by scripts/build-sea.mjs.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${__AGENTPROV_VERSION__}\n`);
} else {
  import('../../src/cli/entry.ts');
}
