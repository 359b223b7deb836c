/**
 * The deep link call of the agentprov protocol client (docs/protocol.md
 * §4.5) against a scripted fetcher: the link comes back and goes to the
 * redactor, a provider without the operation is told apart from a missing
 * provision, and a bad answer never puts the link into the error.
 */
import { describe, expect, it } from 'vitest';
import { AgentprovError, exitCodeFor } from '../../../../src/core/errors.js';
import type { Fetcher, HttpResponse } from '../../../../src/http/fetch.js';
import { createDeepLink, type ProvisioningContext } from '../../../../src/providers/agentprov/provisioning.js';
import { rejection } from '../../../helpers/errors.js';

const ENDPOINT = 'https://provider.test/v1/provisions';
const PROVISION = { id: 'prv_1', service: 'kv:namespace', name: 'cache', status: 'active', created_at: '2026-12-01T00:00:00.000Z', resource: {} };

type Route = (method: string, url: string) => { status: number; body?: unknown };

function context(route: Route): { ctx: ProvisioningContext; calls: string[] } {
  const calls: string[] = [];
  const fetcher = {
    async request(url: string, opts: { method?: string }): Promise<HttpResponse> {
      calls.push(`${opts.method} ${url}`);
      const r = route(opts.method ?? 'GET', url);
      return { status: r.status, headers: {}, body: Buffer.from(r.body === undefined ? '' : JSON.stringify(r.body)), url };
    },
  } as unknown as Fetcher;
  return { ctx: { provider: 'p', endpoint: ENDPOINT, fetcher, accessToken: async () => 'access-token-xyz' }, calls };
}

const notFound = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such endpoint' } } };

describe('createDeepLink (§4.5)', () => {
  it('POSTs {purpose} to <endpoint>/<id>/deep_link and hands the URL to the redactor before anything else', async () => {
    const url = 'https://provider.test/console/signin/dl_abcdefghijklmnopqrstuvwx';
    const { ctx, calls } = context(() => ({ status: 201, body: { url, expires_at: '2026-12-01T00:10:00.000Z', purpose: 'dashboard' } }));
    const redacted: string[] = [];
    const link = await createDeepLink(ctx, 'prv_1', (s) => redacted.push(s));
    expect(link).toMatchObject({ url, expires_at: '2026-12-01T00:10:00.000Z' });
    expect(redacted).toEqual([url]);
    expect(calls).toEqual([`POST ${ENDPOINT}/prv_1/deep_link`]);
  });

  it('a provider without the operation (404 for the link, the provision is there) is OPEN_NOT_SUPPORTED, a usage error', async () => {
    const { ctx, calls } = context((method) => (method === 'POST' ? notFound : { status: 200, body: PROVISION }));
    const err = await rejection(createDeepLink(ctx, 'prv_1', () => undefined));
    expect(err).toBeInstanceOf(AgentprovError);
    expect((err as AgentprovError).code).toBe('OPEN_NOT_SUPPORTED');
    expect(exitCodeFor((err as AgentprovError).code)).toBe(2);
    expect(calls).toEqual([`POST ${ENDPOINT}/prv_1/deep_link`, `GET ${ENDPOINT}/prv_1`]);
    const e405 = await rejection(createDeepLink(context(() => ({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: 'no' } } })).ctx, 'prv_1', () => undefined));
    expect((e405 as AgentprovError).code).toBe('OPEN_NOT_SUPPORTED');
  });

  it('a missing provision stays RESOURCE_NOT_FOUND', async () => {
    const { ctx } = context(() => notFound);
    expect(((await rejection(createDeepLink(ctx, 'prv_gone', () => undefined))) as AgentprovError).code).toBe('RESOURCE_NOT_FOUND');
  });

  it('a link that is not an http(s) URL is INVALID_PROVIDER_RESPONSE, and the error never carries it', async () => {
    const url = 'javascript:alert(1)//SECRETLINKCANARY';
    const { ctx } = context(() => ({ status: 201, body: { url, expires_at: '2026-12-01T00:10:00.000Z' } }));
    const redacted: string[] = [];
    const err = (await rejection(createDeepLink(ctx, 'prv_1', (s) => redacted.push(s)))) as AgentprovError;
    expect(err.code).toBe('INVALID_PROVIDER_RESPONSE');
    expect(redacted).toEqual([url]);
    expect(JSON.stringify({ m: err.message, d: err.details })).not.toContain('SECRETLINKCANARY');
  });
});
