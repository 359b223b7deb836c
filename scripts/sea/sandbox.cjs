'use strict';
/**
 * Stand-in for src/sandbox/index.ts inside the single executable (SEA). The
 * build (scripts/build-sea.mjs) bundles the sandbox on its own and embeds it
 * as the SEA asset "sandbox", so that the executable's main script, which
 * every command compiles at start-up, does not carry it. Here it is compiled
 * and run as a CommonJS module, once, when `agentprov sandbox` asks for it.
 * It needs only Node's built-in modules (everything else is bundled in).
 */
const sea = require('node:sea');
const vm = require('node:vm');

const source = sea.getAsset('sandbox', 'utf8');
const mod = { exports: {} };
const wrapper = vm.compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename: 'agentprov-sandbox.cjs' });
wrapper.call(mod.exports, mod.exports, require, mod, __filename, __dirname);
module.exports = mod.exports;
