// Catalog benchmarks for issue 5, called by scripts/bench.mjs (or run alone:
// `node scripts/bench-catalog.mjs` after `npm run build`). Providers are the
// fixture farm (fixtures/catalog/server.mjs): one loopback server per
// provider. Rows: { name, result: { median, rss }, target } for bench.mjs,
// plus ratio, median_ms, baseline_ms and rss_mb.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFarm, stripeCatalogs, syntheticCatalog } from '../fixtures/catalog/server.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A home whose config lists these descriptor URLs; `catalogUrls` as `providers add` records them. */
function homeWith(urls, prefix = 'agentprov-bench-catalog-', catalogUrls = []) {
  const home = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(home, 'config'), { recursive: true });
  const providers = urls.map((url, i) => ({ url, source: 'user', ...(catalogUrls[i] ? { catalog_url: catalogUrls[i] } : {}) }));
  writeFileSync(join(home, 'config', 'config.json'), JSON.stringify({ providers }));
  return home;
}

/** One run without blocking the event loop (the farm lives in this process). */
function runAsync(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) return reject(new Error(`${args.join(' ')} exited ${code}: ${stderr.slice(-400)}`));
      resolve({ ms, rss: Number(stderr.trim().split('\n').at(-1)) / 1024, stdout });
    });
  });
}

/**
 * Like bench.mjs's measure, a `node -e 0` before each run: `base` is this
 * row's own baseline. `check(stdout)` may throw to refuse a run whose output
 * is not the full answer; it sees every run, as bench.mjs's does.
 */
async function measureAsync(runs, makeEnv, args, check = undefined) {
  const samples = [];
  const bases = [];
  for (let i = 0; i < runs; i++) {
    bases.push((await runAsync(['-e', '0'], process.env)).ms);
    const sample = await runAsync(args, makeEnv(i));
    check?.(sample.stdout);
    samples.push(sample);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { median: median(samples.map((s) => s.ms)), base: median(bases), rss: Math.max(...samples.map((s) => s.rss)) };
}

/** A check for `measure`: stdout is one whole JSON envelope listing at least `count` services of providers named `prefix…`. */
function listing(prefix, count) {
  return (stdout) => {
    const services = JSON.parse(stdout).data.services.filter((s) => s.provider.startsWith(prefix));
    if (services.length < count) throw new Error(`listed ${services.length} services of ${prefix}*, expected ${count}`);
  };
}

function row(name, result, base, target, note) {
  const b = result.base ?? base.median;
  return { name, result, target, note, ratio: result.median / b, median_ms: result.median, baseline_ms: b, rss_mb: result.rss };
}

/** The cold target, start-up + 150 ms, as a ratio to `result`'s own baseline. */
function coldTarget(startup, result) {
  return startup.median / startup.base + 150 / result.base;
}

export async function bench({ measure, base, env, bin }) {
  const rows = [];
  const runs = Number(process.env.BENCH_CATALOG_RUNS ?? 5);
  const envFor = (home, extra = {}) => ({ ...env, AGENTPROV_HOME: home, ...extra });

  // Start-up of `catalog --json` with no provider: what "start-up" means below.
  const emptyHome = homeWith([]);
  const startup = measure([bin, 'catalog', '--json'], envFor(emptyHome));

  // 1. Warm, 48 providers / 161 services.
  {
    const farm = await startFarm({ catalogs: stripeCatalogs() });
    const home = homeWith(farm.providers.map((p) => p.url));
    await runAsync([bin, 'catalog', '--json'], envFor(home));
    await farm.close(); // a warm, fresh cache must need no network at all
    rows.push(row('catalog --json warm (48 providers, 161 services)', measure([bin, 'catalog', '--json'], envFor(home), listing('', 161)), base, 1.4));
  }

  // 2. Cold cache, 50 providers each answering every request after 100 ms.
  //    2a: the providers were added with `providers add` (which records each
  //        catalog URL, indexes the registry and remembers each descriptor for
  //        its max-age, an hour here), then every cached catalog is gone: one
  //        request per provider, the catalog (the target). Its floor is a bare
  //        node:http client making the same 50 requests.
  //    2b: the same config written by hand, nothing else known (no registry
  //        index, no descriptor): the config is zod-parsed before the requests
  //        leave, and the descriptor is fetched beside the catalog, two
  //        requests per provider; reported, no target.
  //    2c: first contact (config written by hand, no catalog URL known): the
  //        descriptor must come first, two round trips; reported, no target.
  {
    const catalogs = Array.from({ length: 50 }, (_, i) => syntheticCatalog(`slow-${i}`, 4));
    const farm = await startFarm({ catalogs, latencyMs: 100 });
    const urls = farm.providers.map((p) => p.url);
    const catalogUrls = urls.map((u) => u.replace('/.well-known/agent-provisioning', '/catalog'));
    const added = homeWith([]);
    for (let i = 0; i < urls.length; i += 10) {
      await Promise.all(urls.slice(i, i + 10).map((u) => runAsync([bin, 'providers', 'add', u, '--json'], envFor(added))));
    }
    const catalogCache = join(added, 'cache', 'catalog');
    const asked = farm.stats.requests;
    const cold = await measureAsync(runs, () => {
      for (const f of readdirSync(catalogCache)) if (!f.startsWith('registry-')) rmSync(join(catalogCache, f));
      return envFor(added);
    }, [bin, 'catalog', '--json'], listing('slow-', 200));
    if (farm.stats.requests - asked !== runs * 50) throw new Error(`the cold catalog made ${(farm.stats.requests - asked) / runs} requests per run, not one per provider`);
    const byHand = await measureAsync(runs, () => envFor(homeWith(urls, undefined, catalogUrls)), [bin, 'catalog', '--json'], listing('slow-', 200));
    const first = await measureAsync(runs, () => envFor(homeWith(urls)), [bin, 'catalog', '--json'], listing('slow-', 200));
    const floor = await measureAsync(runs, () => process.env, [join(ROOT, 'fixtures', 'catalog', 'floor-client.mjs'), ...catalogUrls]);
    await farm.close();
    rows.push(row('floor: bare node:http client, the same 50 requests', floor, base, undefined, 'JSON.parse only: no validation, cache or output'));
    rows.push(row('catalog --json cold cache (50 providers × 100 ms)', cold, base, coldTarget(startup, cold), `start-up ${startup.median.toFixed(0)} ms; added with providers add, then every catalog gone`));
    rows.push(row('catalog --json cold, config written by hand (50 × 100 ms)', byHand, base, undefined, 'config by hand, nothing else known: 2 requests per provider'));
    rows.push(row('catalog --json first contact (50 × 100 ms)', first, base, undefined, 'descriptor, then catalog: 2 round trips'));
  }

  // 3. One provider never answers: the rest are listed within its deadline.
  {
    const catalogs = [...stripeCatalogs().slice(0, 10), syntheticCatalog('black-hole', 1)];
    const farm = await startFarm({ catalogs, hang: ['black-hole'] });
    const urls = farm.providers.map((p) => p.url);
    const deadline = 5000;
    const r = await measureAsync(3, () => envFor(homeWith(urls)), [bin, 'catalog', '--json'], (stdout) => {
      if (!JSON.parse(stdout).warnings.some((w) => w.includes('black-hole') || w.includes('deadline'))) throw new Error('no warning for the silent provider');
    });
    await farm.close();
    rows.push(row('catalog --json with a never-answering provider', r, base, startup.median / startup.base + (deadline + 250) / r.base, `deadline ${deadline} ms`));
  }

  // 4. Warm, 10 providers × 300 services.
  {
    const farm = await startFarm({ catalogs: Array.from({ length: 10 }, (_, i) => syntheticCatalog(`big-${i}`, 300)) });
    const home = homeWith(farm.providers.map((p) => p.url));
    await runAsync([bin, 'catalog', '--json'], envFor(home));
    await farm.close();
    rows.push(row('catalog --json warm (10 providers × 300 services)', measure([bin, 'catalog', '--json'], envFor(home), listing('big-', 3000)), base, 2));
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { measure, baseline } = await import('./bench.mjs');
  const base = baseline();
  const rows = await bench({ measure, base, env: process.env, bin: join(ROOT, 'bin', 'agentprov.js') });
  console.log(`node -e 0: ${base.median.toFixed(1)} ms`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(52)} ${r.median_ms.toFixed(1).padStart(7)} ms  ${r.ratio.toFixed(2)}×  ${r.target === undefined ? 'no target' : `target ≤ ${r.target.toFixed(2)}×  ${r.ratio <= r.target ? 'ok' : 'MISSED'}`}  rss ${r.rss_mb.toFixed(0)} MB${r.note ? `  (${r.note})` : ''}`,
    );
  }
}
