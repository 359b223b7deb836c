#!/usr/bin/env node
// The README's first command: the zero-to-deployed story on the embedded
// sandbox, driven the way an agent drives agentprov (--json, no terminal).
// It grows as commands land; each step prints what it ran and what came back.
import { spawn, spawnSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'agentprov.js');
if (!existsSync(join(ROOT, 'dist', 'agentprov.js'))) spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });

const home = mkdtempSync(join(tmpdir(), 'agentprov-demo-'));
const project = mkdtempSync(join(tmpdir(), 'agentprov-demo-project-'));
const keychain = Boolean(process.env.DBUS_SESSION_BUS_ADDRESS);
const env = {
  ...process.env,
  AGENTPROV_HOME: home,
  NO_COLOR: '1',
  ...(keychain ? {} : { AGENTPROV_CREDENTIAL_STORE: 'file', AGENTPROV_VAULT_PASSPHRASE: 'demo-only-passphrase' }),
};

const say = (s) => process.stdout.write(`${s}\n`);
function cli(args, { allowFail = false } = {}) {
  say(`\n$ agentprov ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [BIN, ...args], { env, cwd: project, encoding: 'utf8' });
  const out = r.stdout.trim();
  say(out.length > 1500 ? `${out.slice(0, 1500)} …` : out);
  if (r.stderr.trim()) say(r.stderr.trim().split('\n').map((l) => `  (stderr) ${l}`).join('\n'));
  if (r.status !== 0 && !allowFail) throw new Error(`agentprov ${args.join(' ')} exited ${r.status}`);
  return { code: r.status, doc: out.startsWith('{') ? JSON.parse(out) : undefined };
}

say(`agentprov demo — state in ${home}, project in ${project}`);
say(`secrets: ${keychain ? 'OS keychain (Secret Service)' : 'passphrase file store (no Secret Service on this machine)'}`);

say('\n$ agentprov sandbox --json --auto-approve   (in the background)');
const sandbox = spawn(process.execPath, [BIN, 'sandbox', '--json', '--auto-approve'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
const ready = await new Promise((resolve, reject) => {
  sandbox.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
  createInterface({ input: sandbox.stdout }).once('line', (line) => resolve(JSON.parse(line)));
});
say(JSON.stringify(ready.data, null, 2));

let failed = false;
try {
  cli(['vault', 'status', '--json']);
  // An agent signs in: a device code, approved here by the sandbox's --auto-approve (a human would open the URL).
  const pending = cli(['init', '--orchestrator', ready.data.orchestrator, '--json'], { allowFail: true });
  if (pending.code !== 3 || pending.doc?.error?.code !== 'AUTHORIZATION_PENDING') throw new Error('expected a pending device authorization');
  cli(['login', '--complete', '--wait', '15', '--json']);
  cli(['whoami', '--json']);
  cli(['catalog', '--json', '--compact']);
  cli(['search', 'domain', '--json']);
  cli(['catalog', 'localcloud/registrar:domain', '--json']);
  const orchestrator = await (await fetch(`${ready.data.orchestrator}/.well-known/agent-orchestrator`)).json();
  say(`\norchestrator descriptor: ${JSON.stringify(orchestrator)}`);
  for (const url of orchestrator.providers) {
    const d = await (await fetch(url)).json();
    const catalog = await (await fetch(d.catalog_url)).json();
    say(`provider ${d.provider_id}: ${catalog.services.map((s) => s.id).join(', ')}`);
  }
  // Provision a free KV namespace: --accept-tos is the human's yes to localcloud's terms; the account is created on the way.
  const added = cli(['add', 'localcloud/kv:namespace', '--name', 'cache', '--accept-tos', '--json']);
  if (added.doc?.data?.status !== 'active') throw new Error('expected an active KV namespace');
  cli(['list', '--json']);
  // The agent uses the KV namespace with a short-lived token that run injects and revokes afterwards.
  const kvScript = `(async () => {
    const h = { authorization: 'Bearer ' + process.env.LOCALCLOUD_TOKEN };
    await fetch(process.env.LOCALCLOUD_KV_URL + '/keys/greeting', { method: 'PUT', headers: h, body: 'hello from the agent' });
    const r = await fetch(process.env.LOCALCLOUD_KV_URL + '/keys/greeting', { headers: h });
    console.log('KV says:', await r.text());
    process.exit(r.ok ? 0 : 1);
  })()`;
  cli(['run', 'cache', '--', process.execPath, '-e', kvScript]);
  // What run injects, and from where, without running anything (never values).
  cli(['env', 'cache', '--json']);
  // A plan change: the free namespace (100 keys) moves to kv:pro (10,000 keys, 9.00/month), paid like an add.
  const upgraded = cli(['update', 'cache', '--service', 'kv:pro', '--confirm-paid-service', '--max-price', '10.00', '--json']);
  if (upgraded.doc?.data?.service !== 'kv:pro') throw new Error('expected the namespace on kv:pro');
  // The human's way in: a single-use sign-in link into localcloud's console at the namespace (for the human only).
  cli(['open', 'cache', '--json']);
  // A paid registration: --confirm-paid-service is the human's yes to the price; the rail mints a payment token under the cap.
  const domain = `demo-${Math.random().toString(36).slice(2, 10)}.test`;
  const paid = cli(['add', 'localcloud/registrar:domain', '--config', JSON.stringify({ domain }), '--confirm-paid-service', '--accept-tos', '--json']);
  if (!paid.doc?.data?.charge) throw new Error('expected the paid registration to record its charge');
  const spend = cli(['spend', '--json']);
  const local = spend.doc?.data?.providers?.find((p) => p.provider === 'localcloud');
  if (local) say(`
localcloud this month: spent ${(local.spent / 100).toFixed(2)} of a ${(local.cap / 100).toFixed(2)} USD cap (${(local.remaining / 100).toFixed(2)} remaining)`);
  // Deploy a script on that domain through run, then fetch it from the domain.
  cli(['add', 'localcloud/workers:script', '--name', 'web', '--param', 'name=web', '--param', `domain=${domain}`, '--json']);
  const deploy = `fetch(process.env.LOCALCLOUD_SCRIPT_URL + '/content', { method: 'PUT', headers: { authorization: 'Bearer ' + process.env.LOCALCLOUD_TOKEN, 'content-type': 'text/html' }, body: '<h1>Hello from agentprov</h1>' }).then((r) => { console.log('deployed:', r.status); process.exit(r.ok ? 0 : 1); })`;
  cli(['run', 'web', '--', process.execPath, '-e', deploy]);
  const localcloud = ready.data.providers.find((p) => p.id === 'localcloud').url;
  const page = await new Promise((resolve, reject) => {
    const req = httpRequest(localcloud, { headers: { host: domain } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve(body));
    });
    req.on('error', reject).end();
  });
  say(`\n$ curl -H 'Host: ${domain}' ${localcloud}/\n${page}`);
  if (!page.includes('Hello from agentprov')) throw new Error('the deployed page is not served on its domain');
  // An APP 0.1d provider (the sandbox's appcloud, PostHog-like): added by its base URL; its keys are long-lived,
  // kept in the vault and injected by run (masked), never printed.
  const app = ready.data.app_providers[0];
  cli(['providers', 'add', app.url, '--protocol', 'app', '--id', app.id, '--json']);
  const metrics = cli(['add', `${app.id}/app:analytics`, '--name', 'metrics', '--accept-tos', '--json']);
  if (metrics.doc?.data?.status !== 'active') throw new Error('expected an active appcloud resource');
  const P = app.id.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  const appScript = `fetch(process.env.${P}_HOST + '/api/whoami', { headers: { authorization: 'Bearer ' + process.env.${P}_API_KEY } }).then((r) => { console.log('${app.id} whoami:', r.status, 'with key', process.env.${P}_API_KEY); process.exit(r.ok ? 0 : 1); })`;
  cli(['run', 'metrics', '--', process.execPath, '-e', appScript]);
  const listed = cli(['list', '--json']);
  if (listed.doc?.data?.resources?.find((r) => r.name === 'metrics')?.credential_lifetime !== 'long-lived') throw new Error('expected list to say the appcloud keys are long-lived');
  // Cloudflare is built in, but the sandbox has no Cloudflare: the honest boundary is a human linking a real account once.
  const cf = cli(['add', 'cloudflare/kv:namespace', '--name', 'cf-cache', '--json'], { allowFail: true });
  if (cf.code !== 3 || cf.doc?.error?.code !== 'PROVIDER_NOT_LINKED') throw new Error('expected Cloudflare to ask for a human link');
  say('\nCloudflare needs a human once: `agentprov providers link cloudflare` (OAuth consent in a browser when a client id is known, else an API token on stdin).');
  say('The sandbox has no Cloudflare; that path is tested against a local double of its documented API (test/e2e/cloudflare.test.ts, test/e2e/cloudflare-oauth.test.ts).');
  // The single revocation point: every grant ended at its provider, the session signed out; the resources stay.
  cli(['revoke', '--all', '--yes', '--json']);
  const after = cli(['run', 'cache', '--', 'true'], { allowFail: true });
  if (after.code !== 3) throw new Error('expected run to need a human again after revoke --all');
} catch (err) {
  failed = true;
  say(`\ndemo failed: ${err.message}`);
} finally {
  sandbox.kill('SIGINT');
  await new Promise((r) => sandbox.once('exit', r));
}
process.exit(failed ? 1 : 0);
