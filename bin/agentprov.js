#!/usr/bin/env node
// `agentprov --version` is answered here, before the bundle is even parsed:
// compiling the bundle costs more than the rest of the program's start-up.
// node:fs is loaded only on that path: an ESM import of it builds a facade
// of the whole module (and its lazy stream classes) on every command.
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${pkg.version}\n`);
} else {
  await import('../dist/agentprov.js');
}
