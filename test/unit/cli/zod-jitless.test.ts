/**
 * The bundled CLI turns off zod's per-schema code generation
 * (src/cli/zod-jitless.ts) by setting zod's global config before zod loads.
 * These tests hold zod to that contract (a zod upgrade that reads its config
 * elsewhere fails here) and the entry to loading that module first.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** Parse an object schema in a fresh node, counting the functions zod compiles with `new Function`. */
function compiledFunctions(preset: boolean): { jitless: unknown; compiled: number } {
  // The module itself, as JavaScript (this Node runs no TypeScript).
  const module = join(mkdtempSync(join(tmpdir(), 'agentprov-zod-jitless-')), 'zod-jitless.mjs');
  writeFileSync(module, transformSync(readFileSync(join(ROOT, 'src', 'cli', 'zod-jitless.ts'), 'utf8'), { loader: 'ts', format: 'esm' }).code);
  const script = `
    let compiled = 0;
    const Real = globalThis.Function;
    globalThis.Function = new Proxy(Real, { construct(t, a) { compiled++; return Reflect.construct(t, a); }, apply(t, s, a) { compiled++; return Reflect.apply(t, s, a); } });
    ${preset ? `await import(${JSON.stringify(module)});` : ''}
    const z = await import('zod');
    const s = z.object({ a: z.string(), b: z.number().int(), c: z.object({ d: z.boolean() }) });
    for (let i = 0; i < 3; i++) s.parse({ a: 'x', b: i, c: { d: true } });
    console.log(JSON.stringify({ jitless: z.config().jitless ?? null, compiled }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { jitless: unknown; compiled: number };
}

describe('zod without per-schema code generation', () => {
  it('zod compiles parsers by default, and none once the global config says jitless before it loads', () => {
    const plain = compiledFunctions(false);
    expect(plain.compiled).toBeGreaterThan(0);
    const jitless = compiledFunctions(true);
    expect(jitless).toEqual({ jitless: true, compiled: 0 });
  });

  it('is the first import of the CLI entry, before anything that could load zod', () => {
    const entry = readFileSync(join(ROOT, 'src', 'cli', 'entry.ts'), 'utf8');
    const firstImport = /^import [^;]*;/m.exec(entry)?.[0];
    expect(firstImport).toBe("import './zod-jitless.js';");
  });
});
