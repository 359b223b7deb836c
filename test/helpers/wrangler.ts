/**
 * Real wrangler (the devDependency, the last one that accepts Node 20)
 * against the Cloudflare double: what `npx wrangler` runs, spawned (not
 * spawnSync) so a double in this process keeps answering, in a throwaway
 * HOME, with no metrics, killed after a minute.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const WRANGLER = join(ROOT, 'node_modules', 'wrangler', 'bin', 'wrangler.js');

export interface WranglerRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function wranglerWhoami(apiUrl: string, token: string | undefined): Promise<WranglerRun> {
  const home = mkdtempSync(join(tmpdir(), 'agentprov-wrangler-'));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: home,
    CI: '1',
    NO_COLOR: '1',
    WRANGLER_SEND_METRICS: 'false',
    ...(token ? { CLOUDFLARE_API_TOKEN: token } : {}),
    CLOUDFLARE_API_BASE_URL: apiUrl,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, 'whoami'], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
