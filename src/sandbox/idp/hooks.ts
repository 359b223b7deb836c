/**
 * Middleware mounted in front of oidc-provider's own routes.
 *
 * - Device authorization responses (RFC 8628 §3.2) carry `interval: 1`: the
 *   sandbox is local, a 5 s default poll only slows the CLI and its tests.
 * - `autoApprove` (README demo only): a device authorization is approved for
 *   the demo user as soon as it is created, without a browser. Never one that
 *   asks to approve a spending cap change: a human always approves those.
 * - oidc-provider silently drops `offline_access` from an authorization
 *   request unless `prompt` includes `consent` (OIDC Core §11), so a plain
 *   `scope=openid email offline_access` sign-in would get no refresh token.
 *   The native CLI client always gets the consent page anyway, so `consent`
 *   is added to `prompt` (kept alongside e.g. `prompt=login`) whenever
 *   `offline_access` is asked for and `prompt` is not `none`.
 */
import type Provider from 'oidc-provider';
import * as z from 'zod';
import { DEMO_USER } from './users.js';

type Middleware = Parameters<Provider['use']>[0];

export const DEVICE_POLL_INTERVAL_SECONDS = 1;

const DeviceAuthorizationBody = z.looseObject({ device_code: z.string().min(1).max(512) });

export function deviceAuthorizationHook(provider: Provider, opts: { autoApprove: boolean; scopes: readonly string[] }): Middleware {
  const devicePath = new URL(provider.urlFor('device_authorization')).pathname;
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== devicePath || ctx.status !== 200) return;
    const body = DeviceAuthorizationBody.safeParse(ctx.body);
    if (!body.success) return;
    if (opts.autoApprove) await approveForDemoUser(provider, body.data.device_code, opts.scopes);
    ctx.body = { ...body.data, interval: DEVICE_POLL_INTERVAL_SECONDS };
  };
}

async function approveForDemoUser(provider: Provider, deviceCode: string, supported: readonly string[]): Promise<void> {
  const code = await provider.DeviceCode.find(deviceCode);
  if (!code || code.accountId || code.error) return;
  if (code.params?.authorization_details !== undefined || code.params?.resource !== undefined) return;
  const requested = String(code.params?.scope ?? 'openid').split(' ');
  const scope = requested.filter((s) => supported.includes(s)).join(' ');
  const grant = new provider.Grant({ accountId: DEMO_USER.sub, clientId: code.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  Object.assign(code, {
    accountId: DEMO_USER.sub,
    grantId,
    scope,
    authTime: Math.floor(Date.now() / 1000),
    amr: ['auto'],
    claims: { id_token: { auth_time: { essential: true } } },
  });
  await code.save();
}

export function offlineAccessPromptHook(provider: Provider): Middleware {
  const authPath = new URL(provider.urlFor('authorization')).pathname;
  return async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === authPath) {
      const { scope, prompt } = ctx.query;
      if (typeof scope === 'string' && (prompt === undefined || typeof prompt === 'string')) {
        const prompts = (prompt ?? '').split(' ').filter(Boolean);
        if (scope.split(' ').includes('offline_access') && !prompts.includes('consent') && !prompts.includes('none')) {
          ctx.query = { ...ctx.query, prompt: [...prompts, 'consent'].join(' ') };
        }
      }
    }
    await next();
  };
}
