/**
 * The built-in Cloudflare provider's catalog and API URL rule, and the switch
 * that offers a built-in provider only while no registered descriptor claims
 * its id. Against the Cloudflare API double: test/integration/providers/cloudflare.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentprovError } from '../../../src/core/errors.js';
import { checkConfig } from '../../../src/provision/service-config.js';
import { CLOUDFLARE_SERVICES } from '../../../src/catalog/builtin/cloudflare.js';
import { checkApiUrl } from '../../../src/providers/cloudflare/client.js';
import { ROOT } from '../../helpers/cli.js';

describe('the Cloudflare catalog', () => {
  it('has the five services, each schema compiling with ajv, env naming token, account and the resource', () => {
    expect(CLOUDFLARE_SERVICES.map((s) => s.id).sort()).toEqual(['d1:database', 'kv:namespace', 'r2:bucket', 'registrar:domain', 'workers:script']);
    for (const s of CLOUDFLARE_SERVICES) {
      expect(s.provider).toBe('cloudflare');
      expect(s.env).toMatchObject({ CLOUDFLARE_API_TOKEN: 'access_token', CLOUDFLARE_ACCOUNT_ID: 'account_id' });
      expect(s.scopes).not.toContain('provision');
      expect(() => checkConfig(s, {}, false)).not.toThrow();
    }
    const byId = Object.fromEntries(CLOUDFLARE_SERVICES.map((s) => [s.id, s]));
    expect(byId['kv:namespace']!.env.CLOUDFLARE_KV_NAMESPACE_ID).toBe('resource.id');
    expect(byId['r2:bucket']!.env.CLOUDFLARE_R2_BUCKET_NAME).toBe('resource.name');
    expect(byId['d1:database']!.env.CLOUDFLARE_D1_DATABASE_ID).toBe('resource.id');
    expect(byId['workers:script']!.env.CLOUDFLARE_WORKER_NAME).toBe('resource.name');
    expect(byId['registrar:domain']!.env.CLOUDFLARE_DOMAIN).toBe('resource.domain');
    const domain = byId['registrar:domain']!;
    expect(domain).toMatchObject({ async: true, pricing: { type: 'recurring', interval: 'year', currency: 'USD', quoted_at_add: true } });
    expect(checkConfig(domain, {}, false).map((i) => i.field)).toEqual(['config.domain']);
    expect(checkConfig(domain, { domain: 'example.com', years: 2, auto_renew: false, privacy: true }, false)).toEqual([]);
    expect(checkConfig(domain, { domain: 'Not A Domain' }, false).map((i) => i.field)).toEqual(['config.domain']);
    expect(checkConfig(domain, { domain: 'example.com', years: 11 }, false).map((i) => i.field)).toEqual(['config.years']);
    expect(checkConfig(byId['r2:bucket']!, { location_hint: 'mars' }, false).map((i) => i.field)).toEqual(['config.location_hint']);
    // The catalog module loads no SDK code (the catalog command lists it without Cloudflare's client).
    expect(readFileSync(join(ROOT, 'src/catalog/builtin/cloudflare.ts'), 'utf8')).not.toMatch(/from ['"]cloudflare/);
  });

  it('accepts https API URLs and http only on loopback, never with userinfo', () => {
    expect(checkApiUrl('https://api.cloudflare.com/client/v4/')).toBe('https://api.cloudflare.com/client/v4');
    expect(checkApiUrl('http://127.0.0.1:8787/client/v4')).toBe('http://127.0.0.1:8787/client/v4');
    for (const bad of ['http://api.cloudflare.com/client/v4', 'https://u:p@api.cloudflare.com/client/v4', 'https://api.cloudflare.com/client/v4?x=1', 'nope']) {
      expect(() => checkApiUrl(bad)).toThrow(AgentprovError);
    }
    // What a refused URL may carry (a password, a token in the query) is never echoed in the error.
    for (const secretive of ['https://u:CANARY-pw@api.cloudflare.com/client/v4', 'https://api.cloudflare.com/client/v4?token=CANARY-q', 'not a url CANARY-raw']) {
      let shown = '';
      try {
        checkApiUrl(secretive);
      } catch (err) {
        shown = JSON.stringify({ message: (err as AgentprovError).message, details: (err as AgentprovError).details });
      }
      expect(shown).toContain('Cloudflare API URL');
      expect(shown).not.toContain('CANARY');
    }
  });
});

describe('the built-in switch (src/catalog/builtin/, src/providers/builtin.ts)', () => {
  const listed = async (claimed: Array<string | null>, env: NodeJS.ProcessEnv = {}) => {
    const { unclaimedBuiltins } = await import('../../../src/catalog/builtin/index.js');
    const builtins = unclaimedBuiltins(claimed, env);
    return { services: builtins.flatMap((b) => b.services), providers: builtins.map((b) => b.report) };
  };

  it('lists the built-in Cloudflare and opens it, when no registered descriptor claims the id', async () => {
    const { builtinFor } = await import('../../../src/providers/builtin.js');
    const merged = await listed(['localcloud']);
    expect(merged.services.filter((s) => s.provider === 'cloudflare')).toHaveLength(CLOUDFLARE_SERVICES.length);
    expect(builtinFor(merged.providers, 'cloudflare')).toBeDefined();
    expect(builtinFor(merged.providers, 'localcloud')).toBeUndefined();
  });

  it('a registered descriptor named cloudflare takes over (the protocol path), even when it failed this time', async () => {
    const { builtinFor } = await import('../../../src/providers/builtin.js');
    const claimedReport = { id: 'cloudflare', name: 'cloudflare', url: 'https://cloudflare.example/.well-known/agent-provisioning', source: 'user' as const, status: 'failed' as const, services: 0, age_s: null };
    const merged = await listed(['cloudflare']);
    expect(merged.services.filter((s) => s.provider === 'cloudflare')).toHaveLength(0);
    expect(builtinFor([claimedReport, ...merged.providers], 'cloudflare')).toBeUndefined();
  });
});
