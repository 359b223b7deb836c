'use strict';
/**
 * The single executable's program (src/cli/entry.ts bundled as CommonJS) is
 * the SEA asset "program", compiled by scripts/sea/entry.mjs only when a
 * command runs, with the V8 code cache the build made for it (the asset
 * "program-cache"). Build and run must wrap the source identically, or V8
 * refuses the cache: both use `wrap` from here.
 */
const FILENAME = 'agentprov-program.cjs';

function wrap(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

module.exports = { FILENAME, wrap };
