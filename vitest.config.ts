import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * Three projects, by what a test needs (README, "Tests and benchmarks"):
 * - unit: src/ in process; no bundle, no keychain, no network beyond the
 *   loopback servers a test starts itself;
 * - integration: the sandbox's counterparts and the Cloudflare double in
 *   process, the real Secret Service; no bundle, no browser;
 * - e2e: the built CLI (its global setup builds it), the SEA, headless Chromium.
 * `vitest run` runs all three; `vitest run --project unit` one of them.
 */
const TIERS = ['unit', 'integration', 'e2e'];

// A test file outside the three folders (one merged from an older branch) would never run: refuse to start.
const testDir = fileURLToPath(new URL('./test', import.meta.url));
const stray = readdirSync(testDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts') && !TIERS.includes(f.split(sep)[0]!));
if (stray.length > 0) {
  throw new Error(`test files outside test/unit, test/integration and test/e2e would never run: ${stray.map((f) => `test/${f}`).join(', ')}. Move each to the folder of what it needs (README, "Tests and benchmarks").`);
}

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      // Unit files mostly wait (lock takeovers, child processes): at least two run at once, also on two cores where
      // vitest's default is one worker. A project with its own worker count needs its own group; it runs first.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], maxWorkers: Math.max(2, availableParallelism() - 1), sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], globalSetup: ['test/setup/integration.ts'], sequence: { groupOrder: 1 } } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], globalSetup: ['test/setup/e2e.ts'], sequence: { groupOrder: 1 } } },
    ],
  },
});
