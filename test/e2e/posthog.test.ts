/**
 * `agentprov providers add posthog [--eu]` (issue 17): PostHog's APP base
 * registered from the catalog shipped with agentprov. Nothing here contacts
 * PostHog: registration reads no catalog, and these tests run nothing else.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isolatedEnv, runCli, tempDir } from '../helpers/cli.js';

function configs(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? configs(p) : n === 'config.json' ? [p] : [];
  });
}

async function register(extra: string[]) {
  const home = tempDir();
  const env = isolatedEnv(home, { AGENTPROV_NO_BROWSER: '1' });
  const r = await runCli(['providers', 'add', 'posthog', ...extra, '--json', '--no-input'], { env, cwd: home, timeoutMs: 30_000 });
  return { r, home };
}

describe('providers add posthog', () => {
  for (const [flags, base] of [
    [[], 'https://us.posthog.com/api/agentic/'],
    [['--eu'], 'https://eu.posthog.com/api/agentic/'],
  ] as const) {
    it(`${flags.join(' ') || '(US)'}: registers ${base} with protocol app, without contacting PostHog`, async () => {
      const { r, home } = await register([...flags]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const out = r.json();
      expect(out.data.provider).toMatchObject({ id: 'posthog', url: base, protocol: 'app', services: 2 });
      expect(out.warnings.join(' ')).toContain('not contacted');
      const files = configs(home);
      expect(files).toHaveLength(1);
      const config = JSON.parse(readFileSync(files[0]!, 'utf8'));
      expect(config.providers).toEqual([expect.objectContaining({ id: 'posthog', url: base, protocol: 'app' })]);
    });
  }
});
