/**
 * Provisioning as an orchestrator does it (docs/protocol.md §4, §8;
 * docs/protocol-auth.md §7): error bodies, Idempotency-Key replay and
 * conflict on a free service, and revocation taking effect at once.
 * Everything created is deleted at cleanup.
 */
import { randomBytes } from 'node:crypto';
import { ProviderErrorBodySchema, ProvisionSchema, type Service } from '../../wire/provider.js';
import type { Answer } from '../http.js';
import type { SuiteContext } from '../types.js';
import type { Discovered } from './discovery.js';
import type { Grants } from './idjag.js';

export const newName = (): string => `check-${randomBytes(4).toString('hex')}`;
export const newKey = (): string => `agentprov-check-${randomBytes(12).toString('hex')}`;

/** A service that can be asked for with `config: {}`: its schema requires nothing. */
export function needsNoConfig(s: Service): boolean {
  const required = s.config_schema['required'];
  return !Array.isArray(required) || required.length === 0;
}

export interface Provisioning {
  token: string;
  create(key: string, body: Record<string, unknown>): Promise<Answer>;
}

/** POST a provision; whatever it created is deleted at cleanup (with a fresh grant: earlier tokens may be revoked by then). */
export function provisioning(ctx: SuiteContext, d: Discovered, grants: Grants, token: string): Provisioning {
  const { http } = ctx;
  return {
    token,
    async create(key, body) {
      const a = await http.send('POST', d.descriptor.provisioning_endpoint, { json: body, headers: { authorization: `Bearer ${token}`, 'idempotency-key': key } });
      const p = ProvisionSchema.safeParse(a.json);
      if ((a.status === 201 || a.status === 202) && p.success) {
        const url = `${d.descriptor.provisioning_endpoint.replace(/\/$/, '')}/${encodeURIComponent(p.data.id)}`;
        ctx.onCleanup(async () => {
          const g = await grants.fresh();
          await http.send('DELETE', url, { headers: { authorization: `Bearer ${g.access_token}` } });
        });
      }
      return a;
    },
  };
}

export async function provisioningChecks(ctx: SuiteContext, d: Discovered, grants: Grants): Promise<void> {
  const { http, report } = ctx;
  const g = await grants.fresh();
  const auth = { authorization: `Bearer ${g.access_token}` };
  const endpoint = d.descriptor.provisioning_endpoint.replace(/\/$/, '');

  const noKey = await http.send('POST', endpoint, { json: { service: 'x:y', name: 'x' }, headers: auth });
  const missing = await http.send('GET', `${endpoint}/prv_agentprov_check_missing`, { headers: auth });
  const e1 = ProviderErrorBodySchema.safeParse(noKey.json);
  const e2 = ProviderErrorBodySchema.safeParse(missing.json);
  report.expect(
    'agentprov.errors.shape',
    noKey.status === 400 && e1.success && e1.data.error.code === 'INVALID_REQUEST' && e1.data.error.field === 'Idempotency-Key' && missing.status === 404 && e2.success && e2.data.error.code === 'NOT_FOUND',
    `${http.describe(noKey, 'no Idempotency-Key')}; ${http.describe(missing, 'unknown provision')}`,
  );

  const free = d.services.find((s) => s.pricing.type === 'free' && needsNoConfig(s));
  if (!free) {
    report.skip('agentprov.idempotency.replay', 'the catalog has no free service that needs no config: nothing the checker may create');
  } else {
    const p = provisioning(ctx, d, grants, g.access_token);
    const key = newKey();
    const body = { service: free.id, name: newName(), config: {} };
    const a1 = await p.create(key, body);
    const a2 = await p.create(key, body);
    const id1 = ProvisionSchema.safeParse(a1.json);
    const id2 = ProvisionSchema.safeParse(a2.json);
    const created = (a1.status === 201 || a1.status === 202) && id1.success;
    report.expect(
      'agentprov.idempotency.replay',
      created && a2.status === a1.status && id2.success && id2.data.id === id1.data.id,
      `${free.id}: first → ${a1.status} ${id1.success ? id1.data.id : a1.text}; same key and body → ${a2.status} ${id2.success ? id2.data.id : a2.text}`,
    );
    if (created) {
      const a3 = await p.create(key, { ...body, name: newName() });
      const e = ProviderErrorBodySchema.safeParse(a3.json);
      report.expect('agentprov.idempotency.conflict', a3.status === 422 && e.success && e.data.error.code === 'IDEMPOTENCY_KEY_REUSED', http.describe(a3, 'same key, another name'));
    }
  }

  const r = await grants.fresh();
  const before = await http.send('GET', endpoint, { headers: { authorization: `Bearer ${r.access_token}` } });
  if (before.status !== 200) {
    report.fail('agentprov.revocation', http.describe(before, 'a fresh access token'));
    return;
  }
  const revoked = await http.send('POST', d.as.revocation_endpoint!, { form: { token: r.access_token, token_type_hint: 'access_token', client_id: grants.clientId } });
  const after = await http.send('GET', endpoint, { headers: { authorization: `Bearer ${r.access_token}` } });
  report.expect('agentprov.revocation', revoked.status === 200 && after.status === 401, `${http.describe(revoked, 'RFC 7009')}; then ${http.describe(after)}`);
}
