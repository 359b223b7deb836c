import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { OrchestratorDescriptor } from '../../../src/wire/orchestrator.js';
import { CatalogSchema, ProtectedResourceMetadataSchema, ProviderDescriptorSchema } from '../../../src/wire/provider.js';
import { BIN, isolatedEnv, tempDir } from '../../helpers/cli.js';

interface Started {
  ready: any;
  readyMs: number;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function startCliSandbox(args: string[], env: NodeJS.ProcessEnv): Promise<Started> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, 'sandbox', '--json', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.on('error', reject);
    void exited.then((code) => reject(new Error(`sandbox exited ${code} before ready: ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) =>
      resolve({
        ready: JSON.parse(line),
        readyMs: Date.now() - t0,
        stop: (signal = 'SIGINT') => {
          child.kill(signal);
          return exited;
        },
      }),
    );
  });
}

async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

describe('agentprov sandbox (the CLI command)', () => {
  it('starts in under 2 seconds, prints the ready envelope, and every endpoint answers', async () => {
    const home = tempDir();
    const s = await startCliSandbox([], isolatedEnv(home));
    try {
      expect(s.readyMs).toBeLessThan(2000);
      expect(s.ready.ok).toBe(true);
      const d = s.ready.data;
      for (const k of ['orchestrator', 'issuer', 'payment_rail', 'data_dir']) expect(typeof d[k]).toBe('string');
      expect(d.providers.map((p: { id: string }) => p.id).sort()).toEqual(['localcloud', 'othercloud']);

      const orch = OrchestratorDescriptor.parse((await getJson(`${d.orchestrator}/.well-known/agent-orchestrator`)).body);
      expect(orch.issuer).toBe(d.issuer);
      expect(orch.payment_rail).toBe(d.payment_rail);
      expect(orch.providers).toHaveLength(2);
      const oidc = await getJson(`${d.issuer}/.well-known/openid-configuration`);
      expect(oidc.body.issuer).toBe(d.issuer);
      expect(oidc.body.device_authorization_endpoint).toMatch(/^http:\/\/127\.0\.0\.1/);
      expect((await fetch(`${d.payment_rail}/v1/spend`)).status).toBe(401);

      for (const url of orch.providers) {
        const desc = ProviderDescriptorSchema.parse((await getJson(url)).body);
        const catalog = await getJson(desc.catalog_url);
        expect(catalog.headers.get('etag')).toBeTruthy();
        expect(CatalogSchema.parse(catalog.body).services.length).toBeGreaterThan(0);
        const unauth = await fetch(desc.provisioning_endpoint, { method: 'POST' });
        expect(unauth.status).toBe(401);
        const challenge = unauth.headers.get('www-authenticate') ?? '';
        const metaUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
        expect(metaUrl).toBeTruthy();
        const meta = ProtectedResourceMetadataSchema.parse((await getJson(metaUrl!)).body);
        const as = meta.authorization_servers[0]!;
        const asMeta = await getJson(`${new URL(as).origin}/.well-known/oauth-authorization-server${new URL(as).pathname}`);
        expect(asMeta.body.issuer).toBe(as);
      }
    } finally {
      expect(await s.stop('SIGINT')).toBe(0);
    }
  });

  it('keeps its ports and state across a restart with the same data dir', async () => {
    const home = tempDir();
    const dataDir = tempDir();
    const first = await startCliSandbox(['--data-dir', dataDir], isolatedEnv(home));
    const firstData = first.ready.data;
    expect(await first.stop('SIGTERM')).toBe(0);
    const second = await startCliSandbox(['--data-dir', dataDir], isolatedEnv(home));
    try {
      expect(second.ready.data.orchestrator).toBe(firstData.orchestrator);
      expect(second.ready.data.providers).toEqual(firstData.providers);
    } finally {
      await second.stop();
    }
  });

  it('labels --auto-approve as demo-only', async () => {
    const s = await startCliSandbox(['--auto-approve'], isolatedEnv(tempDir()));
    try {
      expect(s.ready.data.auto_approve).toBe(true);
      expect(s.ready.warnings.join(' ')).toMatch(/demo only/);
    } finally {
      await s.stop();
    }
  });
});
