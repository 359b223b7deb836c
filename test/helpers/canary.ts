/**
 * Canary scans: the secrets a home's vault holds become canaries, and the
 * scan fails when one of them shows up in a CLI run's stdout or stderr, or
 * in any file under the given directories except the (encrypted) vault file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openVault } from '../../src/vault/vault.js';
import { filesUnder, type CliResult } from './cli.js';

/** Every token and device code (identifiers beside them, like account ids, may be shown). */
const TOKENS_AND_DEVICE_CODES = (key: string): boolean => /_token$|^device_code$/.test(key);

/**
 * The strings stored in the vault of the home at `home`, at any depth, under
 * a key `pick` accepts (`entry` is the vault entry's name).
 */
export async function vaultSecrets(env: NodeJS.ProcessEnv, home: string, pick: (key: string, entry: string) => boolean = TOKENS_AND_DEVICE_CODES): Promise<string[]> {
  const vault = await openVault({ env, stateDir: join(home, 'state') });
  const out: string[] = [];
  for (const entry of await vault.names()) {
    const walk = (v: unknown, key = ''): void => {
      if (typeof v === 'string') {
        if (pick(key, entry)) out.push(v);
      } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
    };
    walk(await vault.get(entry));
  }
  return out;
}

/** No secret in any output, nor in any file under `dirs` (missing ones skipped) but the vault file. */
export function expectNoSecretLeaks(secrets: Iterable<string>, outputs: CliResult[], dirs: string[]): void {
  const canaries = [...secrets];
  for (const r of outputs) {
    for (const s of canaries) {
      expect(r.stdout.includes(s), 'secret in stdout').toBe(false);
      expect(r.stderr.includes(s), 'secret in stderr').toBe(false);
    }
  }
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const f of filesUnder(d, (p) => p.endsWith('vault.json.enc'))) for (const s of canaries) expect(f.content.includes(s), f.path).toBe(false);
  }
}
