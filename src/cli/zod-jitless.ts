/**
 * zod compiles a parser for each object schema the first time it parses
 * (`new Function`, to speed up the thousandth parse); agentprov parses each
 * schema a few times per process, so the compiling is pure start-up cost.
 * zod reads its global config from `globalThis.__zod_globalConfig` when it
 * loads, and a schema reads `jitless` when it is built, so this must run
 * before zod loads: it is the entry's first import, and loads nothing. Every
 * schema still parses as before, only without the generated fast path.
 */
const g = globalThis as { __zod_globalConfig?: { jitless?: boolean } };
g.__zod_globalConfig = { ...g.__zod_globalConfig, jitless: true };
export {};
