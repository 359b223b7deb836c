#!/usr/bin/env node
// Whole-process benchmarks, reported as ratios against `node -e 0` measured
// in the same run (median of N runs after a warm-up), so the figures mean the
// same on a slow or a fast machine. Each row's baseline is its own: a
// `node -e 0` run precedes every run of the command, so a busy minute slows
// both alike (the first-line baseline is only for reference).
// Run: npm run bench (after npm run build).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'agentprov.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 15);

if (!existsSync(join(ROOT, 'dist', 'agentprov.js'))) {
  console.error('dist/agentprov.js is missing: run `npm run build` first');
  process.exit(1);
}

/**
 * Median wall time (ms) and peak RSS (MB) of a command over RUNS runs after
 * one warm-up. stdout is read whole through a pipe, as an agent reads it;
 * `check(stdout)` may throw to refuse a run whose output is not the full
 * answer (a cut-off listing must never pass for a fast one).
 */
export function measure(args, env = process.env, check = undefined, interleave = true, exe = process.execPath) {
  const once = (argv, ok, file = exe) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', file, ...argv], { env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}${r.error ? ` (${r.error.message})` : ''}: ${r.stderr.slice(-500)}`);
    ok?.(r.stdout);
    const rss = Number(r.stderr.trim().split('\n').at(-1)) / 1024;
    return { ms, rss };
  };
  once(args, check);
  const samples = [];
  const bases = [];
  for (let i = 0; i < RUNS; i++) {
    if (interleave) bases.push(once(['-e', '0'], undefined, process.execPath).ms);
    samples.push(once(args, check));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return {
    median: median(samples.map((s) => s.ms)),
    rss: Math.max(...samples.map((s) => s.rss)),
    ...(interleave ? { base: median(bases) } : {}),
  };
}

/** `measure` for an executable other than node (the SEA), against the same `node -e 0`. */
function measureExe(file, args, env) {
  return measure(args, env, undefined, true, file);
}

export function baseline() {
  return measure(['-e', '0'], process.env, undefined, false);
}

function row(name, result, base, target, note) {
  const b = result.base ?? base.median;
  const ratio = result.median / b;
  const ok = target === undefined ? '' : ratio <= target ? `ok (target ≤ ${target.toFixed(2)}×)` : `MISSED (target ≤ ${target.toFixed(2)}×)`;
  console.log(`${name.padEnd(56)} ${result.median.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2).padStart(5)}×  (base ${b.toFixed(1)})  rss ${result.rss.toFixed(0).padStart(4)} MB  ${ok}`);
  if (note) console.log(`${''.padEnd(58)}↳ ${note}`);
  return { name, median_ms: result.median, base_ms: b, ratio, rss_mb: result.rss, target };
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'agentprov-bench-'));
  const keychain = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
  const env = {
    ...process.env,
    AGENTPROV_HOME: home,
    ...(keychain ? {} : { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'bench-only' }),
  };
  const base = baseline();
  console.log(`${'node -e 0 (baseline, for reference)'.padEnd(56)} ${base.median.toFixed(1).padStart(7)} ms  1.00×  rss ${base.rss.toFixed(0).padStart(4)} MB`);
  console.log(`(${RUNS} runs each after a warm-up; vault store: ${keychain ? 'OS keychain (Secret Service)' : 'passphrase file (no Secret Service here)'})`);
  const rows = [];
  rows.push(row('agentprov --version', measure([BIN, '--version'], env), base, 1.25));
  rows.push(row('agentprov --help', measure([BIN, '--help'], env), base));
  // The single executable (npm run build:sea), when built: its start-up is the main script's size (README "Build").
  const sea = join(ROOT, 'dist', 'sea', 'agentprov');
  if (existsSync(sea)) rows.push(row('dist/sea/agentprov --version', measureExe(sea, ['--version'], env), base, 1.15));
  else console.log(`${'dist/sea/agentprov --version'.padEnd(56)} not built (npm run build:sea)`);
  rows.push(row('agentprov vault status --json', measure([BIN, 'vault', 'status', '--json'], env), base));

  for (const extra of ['bench-catalog.mjs', 'bench-session.mjs', 'bench-token.mjs', 'bench-tokens.mjs']) {
    const file = join(ROOT, 'scripts', extra);
    if (!existsSync(file)) continue;
    const mod = await import(file);
    for (const r of await mod.bench({ measure, base, env, bin: BIN, root: ROOT, home })) {
      if (r.tokens !== undefined) {
        // A size row (issue 20): tokens of an agent's context, not time.
        const ok = r.tokens < r.target ? `ok (target < ${r.target} tokens)` : `MISSED (target < ${r.target} tokens)`;
        console.log(`${r.name.padEnd(56)} ${String(r.tokens).padStart(7)} tokens  (${r.chars} chars)  ${ok}`);
        if (r.tokens >= r.target) rows.push({ name: r.name, ratio: Infinity, target: 0 });
        continue;
      }
      rows.push(row(r.name, r.result, base, r.target, r.note));
    }
  }
  const missed = rows.filter((r) => r.target !== undefined && r.ratio > r.target);
  if (missed.length) console.log(`\n${missed.length} target(s) missed: ${missed.map((r) => r.name).join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
