/**
 * The README's first command (`npm run demo`, scripts/demo.mjs) must stay
 * true: run whole against the built CLI and the embedded sandbox, it ends
 * with exit 0 and every step of the story happened, in order.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { requireSecretService } from '../helpers/keyring.js';

const haveKeyring = requireSecretService();

describe.runIf(haveKeyring)('npm run demo', () => {
  it('runs the whole story, from sign-in to revoke --all, and exits 0', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.mjs')], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, out.slice(-3000)).toBe(0);
    const steps = [
      'KV says: hello from the agent',
      '$ agentprov env cache --json',
      '"service":"kv:pro"',
      '"single_use":true',
      'Hello from agentprov',
      'appcloud whoami: 200 with key ****',
      'PROVIDER_NOT_LINKED',
      '$ agentprov revoke --all --yes --json',
      'NOT_SIGNED_IN',
    ];
    let at = 0;
    for (const step of steps) {
      const i = out.indexOf(step, at);
      expect(i, `"${step}" after position ${at}`).toBeGreaterThanOrEqual(0);
      at = i;
    }
    expect(out).not.toContain('demo failed');
  }, 120_000);
});
