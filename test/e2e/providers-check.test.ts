/**
 * `agentprov providers check` (the bundled CLI) against the sandbox in this
 * process: every check passes against localcloud (agentprov's protocol, with
 * the paid checks) and appcloud (APP 0.1d, with the Stripe-signed surface);
 * each protocol fault switched on fails exactly the check that names it; an
 * unreachable provider is exit 5 PROVIDER_UNREACHABLE. The checker's issuer
 * is trusted by localcloud the way a provider team would configure it
 * (`trustedIssuers`, the same as `agentprov sandbox --trust-issuer`).
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxOptions } from '../../src/sandbox/index.js';
import { expectNoSecretLeaks, vaultSecrets } from '../helpers/canary.js';
import { isolatedEnv, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';

const haveKeyring = requireSecretService();
const STRIPE_SECRET = `whsec_canary_${'s3cr3t'.repeat(6)}`;

interface Check {
  id: string;
  level: 'MUST' | 'SHOULD';
  ok: boolean;
  status: 'pass' | 'fail' | 'skip';
  detail: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe.runIf(haveKeyring)('providers check against the sandbox', () => {
  const railFaults = { redeemTwice: false };
  const options: SandboxOptions = { autoApprove: true, appStripeSigningSecret: STRIPE_SECRET, rail: { faults: railFaults } };
  let issuerPort = 0;
  beforeAll(async () => {
    issuerPort = await freePort();
    const issuer = `http://127.0.0.1:${issuerPort}`;
    options.trustedIssuers = [{ issuer, jwksUri: `${issuer}/jwks` }];
  });
  const sb = useSandbox(options);
  const outputs: CliResult[] = [];
  const home = tempDir();
  const cwd = tempDir('agentprov-project-');
  const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' });

  const cli = async (args: string[], input?: string): Promise<CliResult> => {
    const r = await runCli(args, { env, cwd, timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
    outputs.push(r);
    return r;
  };
  const check = (url: string, ...extra: string[]): Promise<CliResult> => cli(['providers', 'check', url, '--issuer-port', String(issuerPort), '--json', '--no-input', ...extra]);
  const checksOf = (r: CliResult): Check[] => r.json().data.checks as Check[];
  const failed = (r: CliResult): string[] => checksOf(r).filter((c) => c.status === 'fail').map((c) => c.id);
  const localcloud = (): string => sb.current.provider('localcloud').url;

  beforeAll(async () => {
    writeFileSync(join(cwd, 'agentprov.json'), JSON.stringify({ version: 1, providers: [], resources: [] }));
    // Signed in at the sandbox's orchestrator: the paid checks mint payment tokens at its rail.
    expect((await cli(['init', '--orchestrator', sb.current.orchestrator, '--json', '--no-input'])).code).toBe(3);
    const done = await cli(['login', '--complete', '--wait', '15', '--json', '--no-input']);
    expect(done.code, done.stdout + done.stderr).toBe(0);
  });

  afterAll(async () => {
    const secrets = [STRIPE_SECRET, ...(await vaultSecrets(env, home))];
    expect(secrets.length).toBeGreaterThan(1);
    expectNoSecretLeaks(secrets, outputs, [home, cwd]);
  });

  it('every check passes against localcloud, paid ones included, and what it created is gone', async () => {
    const r = await check(localcloud(), '--allow-paid');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const checks = checksOf(r);
    expect(checks.length).toBe(22);
    expect(checks.filter((c) => c.status !== 'pass'), JSON.stringify(checks, null, 1)).toEqual([]);
    expect(r.json().data.summary).toMatchObject({ total: 22, passed: 22, failed: 0, skipped: 0, conformant: true });
    // Cleanup: every provision it made is deleted; exactly one charge (the paid provision the second-redemption check needs).
    const made = sb.current.provider('localcloud').resources();
    expect(made.length).toBeGreaterThan(0);
    expect(made.filter((p) => p.status !== 'deleted')).toEqual([]);
    expect(sb.current.rail.ledger().redemptions).toHaveLength(1);
  });

  it('every check passes against appcloud, Stripe surface included; the signing secret comes from stdin and is never printed', async () => {
    const before = Object.keys(sb.current.app.state.data.resources).length;
    const r = await cli(['providers', 'check', sb.current.app.url, '--issuer-port', String(issuerPort), '--json', '--stripe-signing-secret-stdin'], `${STRIPE_SECRET}\n`);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json().data.protocol).toBe('app');
    const checks = checksOf(r);
    expect(checks.length).toBe(18);
    expect(checks.filter((c) => c.status !== 'pass'), JSON.stringify(checks, null, 1)).toEqual([]);
    const resources = Object.values(sb.current.app.state.data.resources);
    expect(resources.length).toBeGreaterThan(before);
    expect(resources.filter((x) => !x.removed)).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(STRIPE_SECRET);
  });

  const faults: Array<{ name: string; id: string; on(): void; off(): void; url(): string; args?: string[] }> = [
    { name: 'no refresh rotation', id: 'agentprov.refresh.rotation', on: () => sb.current.provider('localcloud').setFaults({ noRefreshRotation: true }), off: () => sb.current.provider('localcloud').setFaults({}), url: localcloud },
    { name: 'non-idempotent provisioning', id: 'agentprov.idempotency.replay', on: () => sb.current.provider('localcloud').setFaults({ nonIdempotentProvisioning: true }), off: () => sb.current.provider('localcloud').setFaults({}), url: localcloud },
    { name: 'a replayed ID-JAG accepted', id: 'agentprov.idjag.replay', on: () => sb.current.provider('localcloud').setFaults({ acceptReplayedIdJag: true }), off: () => sb.current.provider('localcloud').setFaults({}), url: localcloud },
    { name: 'a payment token redeemable twice', id: 'agentprov.payment.second_redemption', on: () => void (railFaults.redeemTwice = true), off: () => void (railFaults.redeemTwice = false), url: localcloud, args: ['--allow-paid'] },
    { name: 'no API-Version check', id: 'app.api_version', on: () => void (sb.current.app.faults.noApiVersionCheck = true), off: () => void (sb.current.app.faults.noApiVersionCheck = false), url: () => sb.current.app.url },
  ];
  for (const f of faults) {
    it(`${f.name}: exactly ${f.id} fails, exit 5`, async () => {
      f.on();
      try {
        const r = await check(f.url(), ...(f.args ?? []));
        expect(failed(r), JSON.stringify(checksOf(r), null, 1)).toEqual([f.id]);
        expect(r.code).toBe(5);
        expect(r.json().data.summary).toMatchObject({ failed: 1, must_failed: 1, conformant: false });
      } finally {
        f.off();
      }
    });
  }

  it('a human gets one line per check; an unreachable provider is exit 5 PROVIDER_UNREACHABLE', async () => {
    const human = await cli(['providers', 'check', localcloud(), '--issuer-port', String(issuerPort), '--no-input']);
    expect(human.code, human.stderr).toBe(0);
    const lines = human.stdout.trim().split('\n');
    expect(lines.filter((l) => /^(PASS|FAIL|SKIP)\s+(MUST|SHOULD)\s+agentprov\.\S+/.test(l))).toHaveLength(22);
    expect(human.stdout).toMatch(/^SKIP\s+MUST\s+agentprov\.payment\.over_maximum\s+.*--allow-paid/m);

    const closed = await freePort();
    const r = await cli(['providers', 'check', `http://127.0.0.1:${closed}`, '--issuer-port', String(issuerPort), '--json']);
    expect(r.code).toBe(5);
    expect(r.json().error.code).toBe('PROVIDER_UNREACHABLE');
  });
});
