// The sandbox's data dir survives a crash mid-write: kill -9 the sandbox
// while requests that persist state are in flight, restart it on the same
// data dir, and check every state file still parses and the sandbox starts.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { BIN, isolatedEnv, tempDir } from '../../helpers/cli.js';

function start(dataDir: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, 'sandbox', '--json', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = new Promise<any>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sandbox exited ${code} before ready`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
  });
  return { child, ready };
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return jsonFiles(p);
    return name.endsWith('.json') ? [p] : [];
  });
}

describe('sandbox state under kill -9', () => {
  it('every state file parses after 8 crashes in the middle of writes, and the sandbox restarts each time', async () => {
    const dataDir = tempDir();
    const env = isolatedEnv(tempDir());
    for (let round = 0; round < 8; round++) {
      const { child, ready } = start(dataDir, env);
      const issuer = (await ready).data.issuer as string;
      // Each device authorization request makes the identity provider persist a grant.
      const flood = Array.from({ length: 40 }, () =>
        fetch(`${issuer}/device/auth`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'client_id=agentprov-cli&scope=openid',
        }).catch(() => undefined),
      );
      await new Promise((r) => setTimeout(r, 20 + round * 15));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await Promise.all([exited, ...flood]);
      for (const file of jsonFiles(dataDir)) expect(() => JSON.parse(readFileSync(file, 'utf8')), file).not.toThrow();
    }
    // the flood really wrote state (device codes) before the crashes
    expect(readFileSync(join(dataDir, 'idp', 'oidc-state.json'), 'utf8')).toContain('DeviceCode');
    const { child, ready } = start(dataDir, env);
    expect((await ready).ok).toBe(true);
    child.kill('SIGINT');
  });
});
