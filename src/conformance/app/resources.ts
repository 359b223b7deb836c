/**
 * APP resources (docs/protocol.md §APP.1): created idempotently on
 * `project_id`, credentials rotated, removed; error envelopes; and a burst
 * to see whether the provider limits it with 429 and Retry-After (SHOULD).
 * Only a free service is created; it is removed at cleanup if a check did
 * not remove it.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { AppResource, type AppService, type AppTokenResponse } from '../../wire/app.js';
import type { SuiteContext } from '../types.js';
import { errorCode, type AppClient } from './client.js';

const BURST = 20;

export async function resourceChecks(ctx: SuiteContext, app: AppClient, tokens: AppTokenResponse, services: AppService[]): Promise<void> {
  const { report, http } = ctx;
  const bearer = tokens.access_token;
  const free = services.find((s) => s.pricing.type === 'free');
  if (!free) {
    for (const id of ['app.resources.idempotent', 'app.resources.rotate', 'app.resources.remove']) report.skip(id, 'no free service listed (provisioning/services): nothing the checker may create');
  } else {
    const projectId = `agentprov-check-${randomUUID()}`;
    const body = { service_id: free.id, project_id: projectId, configuration: {}, label_prefix: 'agentprov-check' };
    const r1 = await app.send('POST', 'provisioning/resources', { json: body, bearer });
    const first = AppResource.safeParse(r1.json);
    if (first.success) {
      const id = first.data.id;
      ctx.onCleanup(async () => void (await app.send('POST', `provisioning/resources/${encodeURIComponent(id)}/remove`, { json: {}, bearer })));
      if (first.data.status === 'complete') credentials(ctx, first.data.complete.access_configuration);
    }
    const r2 = await app.send('POST', 'provisioning/resources', { json: body, bearer });
    const second = AppResource.safeParse(r2.json);
    if (second.success && second.data.status === 'complete') credentials(ctx, second.data.complete.access_configuration);
    const same = r1.status === 200 && first.success && first.data.status === 'complete' && r2.status === 200 && second.success && second.data.id === first.data.id;
    report.expect('app.resources.idempotent', same, `${http.describe(r1, `${free.id}, project_id ${projectId}`)}; again → ${r2.status} ${second.success ? second.data.id : r2.text}`);
    if (same && first.success && first.data.status === 'complete') {
      const id = encodeURIComponent(first.data.id);
      const before = first.data.complete.access_configuration;
      const rot = await app.send('POST', `provisioning/resources/${id}/rotate_credentials`, { json: {}, bearer });
      const rotated = AppResource.safeParse(rot.json);
      const after = rotated.success && rotated.data.status === 'complete' ? rotated.data.complete.access_configuration : undefined;
      credentials(ctx, after ?? {});
      const changed = after !== undefined && Object.keys(before).some((k) => after[k] !== before[k]);
      report.expect('app.resources.rotate', rot.status === 200 && changed, http.describe(rot, changed ? 'credentials changed' : 'credentials unchanged'));
      const rem = await app.send('POST', `provisioning/resources/${id}/remove`, { json: {}, bearer });
      const gone = await app.send('GET', `provisioning/resources/${id}`, { bearer });
      const removed = AppResource.safeParse(rem.json);
      report.expect('app.resources.remove', rem.status === 200 && removed.success && removed.data.status === 'removed' && gone.status === 404, `${http.describe(rem)}; then ${http.describe(gone)}`);
    }
  }

  const missing = await app.send('GET', 'provisioning/resources/agentprov-check-missing', { bearer });
  const grant = await app.send('POST', 'oauth/token', { form: { grant_type: 'agentprov_check_unknown' } });
  const oauthShape = z.looseObject({ error: z.string().max(64) }).safeParse(grant.json).success; // RFC 6749 §5.2
  report.expect(
    'app.errors.envelope',
    missing.status === 404 && errorCode(missing) === 'not_found' && grant.status === 400 && errorCode(grant) !== undefined && oauthShape,
    `${http.describe(missing, 'unknown resource')}; ${http.describe(grant, 'unknown grant_type')}`,
  );

  // At once, as an agent loop might: a limit counted per second sees them together.
  const burst = await Promise.all(Array.from({ length: BURST }, () => app.send('GET', 'provisioning/services')));
  const limited = burst.find((a) => a.status === 429);
  if (limited) {
    const after = limited.header('retry-after');
    report.expect('app.rate_limit', after !== undefined && /^\d{1,6}$/.test(after.trim()), `${burst.filter((a) => a.status === 429).length} of a burst of ${BURST} → 429, Retry-After: ${after ?? 'missing'}`);
    return;
  }
  report.skip('app.rate_limit', `no 429 within a burst of ${BURST} requests: nothing to check (a limit, if any, is higher)`);
}

/** Remember a resource's credentials as secrets; a member that is a URL (`host`) is where they work, not one. */
function credentials(ctx: SuiteContext, access: Record<string, string>): void {
  for (const v of Object.values(access)) if (!URL.canParse(v)) ctx.http.secret(v);
}
