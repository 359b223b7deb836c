#!/usr/bin/env node
// Whole-process benchmarks, reported as ratios against `node -e 0` measured
// in the same run (median of N runs after a warm-up), so the figures mean the
// same on a slow or a fast machine. Run: npm run bench (after npm run build).
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

/** Median wall time (ms) and peak RSS (MB) of a command over RUNS runs after one warm-up. */
export function measure(args, env = process.env) {
  const once = () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { env, encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-500)}`);
    const rss = Number(r.stderr.trim().split('\n').at(-1)) / 1024;
    return { ms, rss };
  };
  once();
  const samples = Array.from({ length: RUNS }, once);
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  return { median: ms[Math.floor(ms.length / 2)], rss: Math.max(...samples.map((s) => s.rss)) };
}

export function baseline() {
  return measure(['-e', '0']);
}

function row(name, result, base, target) {
  const ratio = result.median / base.median;
  const ok = target === undefined ? '' : ratio <= target ? `ok (target ≤ ${target.toFixed(2)}×)` : `MISSED (target ≤ ${target.toFixed(2)}×)`;
  console.log(`${name.padEnd(44)} ${result.median.toFixed(1).padStart(7)} ms  ${ratio.toFixed(2).padStart(5)}×  rss ${result.rss.toFixed(0).padStart(4)} MB  ${ok}`);
  return { name, median_ms: result.median, ratio, rss_mb: result.rss, target };
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
  console.log(`node -e 0 (baseline)                         ${base.median.toFixed(1).padStart(7)} ms  1.00×  rss ${base.rss.toFixed(0).padStart(4)} MB`);
  console.log(`(${RUNS} runs each after a warm-up; vault store: ${keychain ? 'OS keychain (Secret Service)' : 'passphrase file (no Secret Service here)'})`);
  const rows = [];
  rows.push(row('agentprov --version', measure([BIN, '--version'], env), base, 1.25));
  rows.push(row('agentprov --help', measure([BIN, '--help'], env), base));
  rows.push(row('agentprov vault status --json', measure([BIN, 'vault', 'status', '--json'], env), base));

  for (const extra of ['bench-catalog.mjs', 'bench-session.mjs', 'bench-token.mjs']) {
    const file = join(ROOT, 'scripts', extra);
    if (!existsSync(file)) continue;
    const mod = await import(file);
    for (const r of await mod.bench({ measure, base, env, bin: BIN, root: ROOT, home })) rows.push(row(r.name, r.result, base, r.target));
  }
  const missed = rows.filter((r) => r.target !== undefined && r.ratio > r.target);
  if (missed.length) console.log(`\n${missed.length} target(s) missed: ${missed.map((r) => r.name).join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
