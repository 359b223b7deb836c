// The single executable's main script, kept small because Node compiles it
// on every start: `--version` is answered here (as bin/agentprov.js does for
// the bundle), and every other command compiles the program, the SEA asset
// "program", with the code cache the build made for it (scripts/sea/program.cjs).
// __AGENTPROV_VERSION__ is defined by scripts/build-sea.mjs.
import { getAsset } from 'node:sea';
import { Script } from 'node:vm';
import { FILENAME, wrap } from './program.cjs';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${__AGENTPROV_VERSION__}\n`);
} else {
  const script = new Script(wrap(getAsset('program', 'utf8')), { filename: FILENAME, cachedData: Buffer.from(getAsset('program-cache')) });
  // A refused cache only costs time (V8 compiles instead); said where someone is looking.
  if (script.cachedDataRejected && process.env.AGENTPROV_DEBUG) process.stderr.write('[debug] the program code cache was refused; compiling\n');
  const program = { exports: {} };
  script.runInThisContext()(program.exports, require, program, __filename, __dirname);
}
