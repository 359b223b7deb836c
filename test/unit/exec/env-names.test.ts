/** The names `run` and `env` share (src/exec/env-names.ts), and revoke's bounded retry (src/exec/revoke.ts). */
import { describe, expect, it } from 'vitest';
import { AgentprovError } from '../../../src/core/errors.js';
import { envLayout } from '../../../src/exec/env-names.js';
import type { RunPlan } from '../../../src/exec/plan.js';
import { REVOKE_GRANT_ATTEMPTS, retrying } from '../../../src/exec/revoke.js';
import type { ManifestResource } from '../../../src/project/manifest.js';

const resource = (name: string, provider: string): ManifestResource => ({ name, provider, service: 'x:y', id: `id-${name}`, status: 'active', config: {} }) as unknown as ManifestResource;

describe('envLayout', () => {
  it('catalog bindings first, then credential members under their own name, prefixed when taken, never twice', () => {
    const plan: RunPlan = {
      providers: new Map(),
      resources: [resource('metrics', 'appcloud'), resource('other', 'appcloud')],
      bindings: [
        { name: 'APPCLOUD_API_KEY', provider: 'appcloud', resource: 'metrics', source: 'resource.api_key' },
        { name: 'SHARED', provider: 'appcloud', resource: 'metrics', source: 'resource.host' },
        { name: 'SHARED', provider: 'appcloud', resource: 'other', source: 'resource.host' },
      ],
      strip: new Set(),
    };
    const members = new Map([
      ['metrics', [{ member: 'api_key', name: 'APPCLOUD_API_KEY' }, { member: 'region', name: 'APPCLOUD_REGION' }]],
      ['other', [{ member: 'region', name: 'APPCLOUD_REGION' }, { member: 'zone', name: 'APPCLOUD_API_KEY' }]],
    ]);
    const layout = envLayout(plan, members);
    expect(layout.map((s) => `${s.name}<-${s.resource}:${s.source}${s.member ? '*' : ''}`)).toEqual([
      'APPCLOUD_API_KEY<-metrics:resource.api_key',
      // A name bound twice is injected once: the later binding wins.
      'SHARED<-other:resource.host',
      'APPCLOUD_REGION<-metrics:resource.region*',
      'OTHER_APPCLOUD_REGION<-other:resource.region*',
      'OTHER_APPCLOUD_API_KEY<-other:resource.zone*',
    ]);
  });
});

describe('revoke retries', () => {
  it('asks again only after a provider failure, at most REVOKE_GRANT_ATTEMPTS times, pausing between', async () => {
    const pauses: number[] = [];
    const sleep = async (ms: number) => void pauses.push(ms);
    let calls = 0;
    const down = retrying(async () => {
      calls++;
      throw new AgentprovError('PROVIDER_UNREACHABLE', 'down');
    }, sleep);
    await expect(down.value).rejects.toMatchObject({ code: 'PROVIDER_UNREACHABLE' });
    expect(calls).toBe(REVOKE_GRANT_ATTEMPTS);
    expect(down.attempts()).toBe(REVOKE_GRANT_ATTEMPTS);
    expect(pauses).toHaveLength(REVOKE_GRANT_ATTEMPTS - 1);

    const refused = retrying(async () => {
      throw new AgentprovError('PROVIDER_NOT_TRUSTED', 'no');
    }, sleep);
    await expect(refused.value).rejects.toMatchObject({ code: 'PROVIDER_NOT_TRUSTED' });
    expect(refused.attempts()).toBe(1);

    let flaky = 0;
    const second = retrying(async () => {
      if (++flaky < 2) throw new AgentprovError('PROVIDER_ERROR', 'once');
      return 'ok';
    }, sleep);
    expect(await second.value).toBe('ok');
    expect(second.attempts()).toBe(2);
  });
});
