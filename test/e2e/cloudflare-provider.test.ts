/**
 * The built-in Cloudflare provider through the bundled CLI: `providers link
 * cloudflare` with the token piped in, against the local Cloudflare API
 * double, and AGENTPROV_BUILTIN_PROVIDERS=none. In process:
 * test/unit/providers/cloudflare.test.ts and
 * test/integration/providers/cloudflare.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';
import { startCloudflareDouble, type CloudflareDouble } from '../helpers/cloudflare-double.js';
import { requireSecretService } from '../helpers/keyring.js';
import { newHome, signIn } from '../helpers/stored-session.js';

const haveKeyring = requireSecretService();

describe.runIf(haveKeyring)('Cloudflare against the API double', () => {
  let double: CloudflareDouble;

  beforeEach(async () => {
    double = await startCloudflareDouble();
  });
  afterEach(async () => {
    expect(double.state.internalErrors).toEqual([]);
    await double.close();
  });

  describe('providers link cloudflare', () => {
    it('works through the bundled CLI with the token piped in (never in argv or env)', async () => {
      const h = newHome();
      await signIn(h);
      const r = await runCli(['providers', 'link', 'cloudflare', '--api-url', double.url, '--json'], { env: h.env, input: `${double.parent.value}\n`, timeoutMs: 60_000 });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ ok: true, command: 'providers link', data: { provider: 'cloudflare', account_id: double.accountId, token_id: double.parent.id, api_url: double.url } });
      expect(r.stdout + r.stderr).not.toContain(double.parent.value);
      const viaEnv = await runCli(['providers', 'link', 'cloudflare', '--json'], { env: { ...h.env, AGENTPROV_CLOUDFLARE_API_URL: double.url }, input: '', timeoutMs: 60_000 });
      expect(viaEnv.code).toBe(2);
      expect(viaEnv.json().error.code).toBe('USAGE');
    });
  });
});

describe('the built-in switch (src/catalog/builtin/, src/providers/builtin.ts)', () => {
  const listed = async (claimed: Array<string | null>, env: NodeJS.ProcessEnv = {}) => {
    const { unclaimedBuiltins } = await import('../../src/catalog/builtin/index.js');
    const builtins = unclaimedBuiltins(claimed, env);
    return { services: builtins.flatMap((b) => b.services), providers: builtins.map((b) => b.report) };
  };

  it('AGENTPROV_BUILTIN_PROVIDERS=none hides the built-in providers, from catalog and providers list alike', async () => {
    expect((await listed([], { AGENTPROV_BUILTIN_PROVIDERS: 'none' })).providers).toHaveLength(0);
    const env = isolatedEnv(tempDir(), { AGENTPROV_BUILTIN_PROVIDERS: 'none' });
    for (const args of [['providers', 'list', '--json'], ['catalog', '--json']]) {
      const r = await runCli(args, { env });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(JSON.stringify(r.json().data)).not.toContain('cloudflare');
    }
  });
});
