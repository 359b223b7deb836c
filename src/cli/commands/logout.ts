/**
 * `agentprov logout`: revoke the refresh token at the issuer (RFC 7009),
 * then delete the local session and any pending sign-in
 * (src/auth/logout.ts). An unreachable issuer does not keep the user signed
 * in locally: the session is deleted and a warning says the revocation did
 * not happen.
 */
import { signOut } from '../../auth/logout.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';

export async function run(deps: Deps): Promise<CommandResult> {
  const { warnings, ...result } = await signOut(deps);
  return {
    data: result,
    warnings,
    nextSteps: ['agentprov login'],
    human: result.signed_out ? `signed out${result.revoked ? ' (session revoked at the issuer)' : ''}` : 'not signed in',
  };
}
