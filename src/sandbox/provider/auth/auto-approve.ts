/**
 * `autoApprove` (README demo only): a device authorization is approved for
 * the demo user the moment it is created, as if they had signed in, accepted
 * the current terms and approved the requested scopes on the pages.
 */
import type { Provider } from 'oidc-provider';
import type { AccountStore } from './accounts.js';
import { consentScopes, saveConsentGrant } from './consent.js';
import type { ResourceConfig } from './tokens.js';
import { DEMO_USER } from './users.js';

export interface AutoApproveDeps {
  provider: Provider;
  accounts: AccountStore;
  rs: ResourceConfig;
  termsVersion: string;
  linkIssuer: string | undefined;
}

export function autoApprover(deps: AutoApproveDeps): (deviceCode: string) => Promise<void> {
  return async (deviceCode) => {
    const code = await deps.provider.DeviceCode.find(deviceCode);
    if (!code?.clientId || code.accountId || code.error) return;
    const approved = await deps.accounts.approve({
      email: DEMO_USER.email,
      clientId: code.clientId,
      termsVersion: deps.termsVersion,
      link: deps.linkIssuer ? { issuer: deps.linkIssuer, sub: DEMO_USER.sub } : undefined,
    });
    if ('kind' in approved) return;
    const consent = consentScopes(deps.rs, code.params ?? {});
    const accountId = approved.account.id;
    const grantId = await saveConsentGrant(deps.provider, accountId, code.clientId, consent);
    Object.assign(code, {
      accountId,
      grantId,
      authTime: Math.floor(Date.now() / 1000),
      scope: [...consent.oidcScopes, ...consent.scopes].join(' '),
      resource: consent.resources.length === 1 ? consent.resources[0] : consent.resources,
    });
    await code.save();
  };
}
