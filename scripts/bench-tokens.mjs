// Issue 20's context budget, called by scripts/bench.mjs (or alone after
// `npm run build`): `catalog --compact` for the 161 services of the Stripe
// Projects fixture (test/fixtures/stripe-projects-catalog.json, served on
// loopback in agentprov's catalog format), counted with gpt-tokenizer's BPE
// vocabulary (o200k_base). Rows: { name, tokens, target } for bench.mjs.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countTokens } from 'gpt-tokenizer';
import { convert } from '../fixtures/catalog/convert.mjs';
import { startFarm } from '../fixtures/catalog/server.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const TOKEN_BUDGET = 4000;

function stdoutOf(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'agentprov.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}: ${err.slice(-400)}`))));
  });
}

export async function bench() {
  const catalogs = convert(JSON.parse(readFileSync(join(ROOT, 'test', 'fixtures', 'stripe-projects-catalog.json'), 'utf8')));
  const farm = await startFarm({ catalogs });
  try {
    const home = mkdtempSync(join(tmpdir(), 'agentprov-bench-tokens-'));
    mkdirSync(join(home, 'config'), { recursive: true });
    writeFileSync(join(home, 'config', 'config.json'), JSON.stringify({ providers: farm.providers.map((p) => ({ url: p.url, source: 'user' })) }));
    const env = { ...process.env, AGENTPROV_HOME: home, AGENTPROV_BUILTIN_PROVIDERS: 'none' };
    const out = await stdoutOf(['catalog', '--compact'], env);
    const lines = out.trimEnd().split('\n').length;
    const expected = catalogs.reduce((n, c) => n + c.services.length, 0);
    if (lines !== expected) throw new Error(`catalog --compact listed ${lines} services, expected ${expected}`);
    return [{ name: `catalog --compact, ${expected} Stripe services (o200k_base)`, tokens: countTokens(out), chars: out.length, target: TOKEN_BUDGET }];
  } finally {
    await farm.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) for (const r of await bench()) console.log(`${r.name}: ${r.tokens} tokens (${r.chars} chars), target < ${r.target}`);
