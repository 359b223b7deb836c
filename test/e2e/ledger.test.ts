/**
 * Budget and spend with both payers at once (issue 9 §3): the payment rail
 * of the sandbox in this process and agentprov's own ledger, through the
 * bundled CLI, signed in and approving with headless Chromium, and the real
 * Secret Service.
 * The ledger itself is unit-tested in test/unit/payment/ledger.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { completeDeviceFlow, enterDeviceCode, launchBrowser, signIn } from '../helpers/browser.js';
import { requireSecretService } from '../helpers/keyring.js';
import { useSandbox } from '../helpers/sandbox.js';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

describe.runIf(requireSecretService())('budget and spend with the payment rail and the ledger, on the sandbox', () => {
  const sb = useSandbox();

  it('rows from both, each saying who bills; the human\'s approval (not the fresh sign-in) raises the ledger cap, which the rail never sees', async () => {
    const home = tempDir();
    const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' });
    const init = await runCli(['init', '--orchestrator', sb.current.orchestrator, '--json'], { env });
    expect(init.code, init.stdout + init.stderr).toBe(3);
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      const d = init.json().error.details;
      await completeDeviceFlow(page, { verificationUri: d.verification_uri, userCode: d.user_code, email: 'demo@agentprov.test', password: 'demo', decision: 'approve' });
      await page.close();
      const login = await runCli(['login', '--complete', '--wait', '10', '--json'], { env });
      expect(login.code, login.stdout + login.stderr).toBe(0);

      // Signed in just now, yet the raise waits for the human's approval of it.
      const raise = await runCli(['budget', 'set', 'cloudflare', '250.00', '--json'], { env });
      expect(raise.code, raise.stdout + raise.stderr).toBe(3);
      expect(raise.json().error).toMatchObject({ code: 'CAP_RAISE_APPROVAL_REQUIRED', details: { provider: 'cloudflare', previous_cap: 10_000, new_cap: 25_000, billed_by: 'provider' } });
      expect(existsSync(join(home, 'state', 'ledger.json')) ? JSON.parse(readFileSync(join(home, 'state', 'ledger.json'), 'utf8')).caps : {}).toEqual({});
      const approval = await browser.newPage();
      await enterDeviceCode(approval, raise.json().error.details.verification_uri, raise.json().error.details.user_code);
      await signIn(approval, 'demo@agentprov.test', 'demo');
      const decided = approval.waitForURL((url) => !url.pathname.includes('/interaction/'));
      await approval.click('[data-action="approve"]');
      await decided;
      await approval.close();
    } finally {
      await browser.close();
    }
    const raised = await runCli(['budget', 'set', 'cloudflare', '250.00', '--complete', '--wait', '15', '--json'], { env });
    expect(raised.code, raised.stdout + raised.stderr).toBe(0);
    expect(raised.json().data).toMatchObject({ provider: 'cloudflare', cap: 25_000, previous_cap: 10_000, billed_by: 'provider' });
    expect(JSON.parse(readFileSync(join(home, 'state', 'ledger.json'), 'utf8')).caps).toEqual({ cloudflare: 25_000 });
    const lower = await runCli(['budget', 'set', 'localcloud', '90.00', '--json'], { env });
    expect(lower.json().data).toMatchObject({ provider: 'localcloud', cap: 9000, billed_by: 'rail' });

    const show = await runCli(['budget', '--json'], { env });
    expect(show.code, show.stdout + show.stderr).toBe(0);
    const data = show.json().data;
    expect(data.rail).toEqual({ spent: 0, held: 0 });
    const rows = data.providers as Array<{ provider: string; billed_by: string; cap: number }>;
    expect(rows.find((r) => r.provider === 'cloudflare')).toMatchObject({ billed_by: 'provider', cap: 25_000 });
    expect(rows.find((r) => r.provider === 'localcloud')).toMatchObject({ billed_by: 'rail', cap: 9000 });
    // the rail keeps its own caps: it never heard of cloudflare
    const railSpend = (await runCli(['spend', '--provider', 'localcloud', '--json'], { env })).json().data;
    expect(railSpend.providers).toEqual([expect.objectContaining({ provider: 'localcloud', billed_by: 'rail' })]);
    expect(sb.current.rail.ledger().caps['user-demo']?.providers.cloudflare).toBeUndefined();
  }, 120_000);
});
