/**
 * Pure helpers of the Cloudflare provider: names and scopes (provider.ts
 * stays under the size limit).
 */
import { AgentprovError } from '../../core/errors.js';
import { BASE_SCOPES, CLOUDFLARE_PROVIDER_ID, CLOUDFLARE_SERVICES, SCOPE_PERMISSION_GROUPS } from '../../catalog/builtin/cloudflare.js';

/** R2 names allow no underscore: the resource name with hyphens instead. */
export function bucketName(name: string): string {
  const b = name.replace(/_/g, '-');
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(b)) {
    throw new AgentprovError('INVALID_CONFIG', `config.bucket_name: "${name}" is not a valid R2 bucket name (3-63 lower-case letters, digits, hyphens); give one`, {
      details: { field: 'config.bucket_name' },
      nextSteps: [`agentprov add cloudflare/r2:bucket --name ${name} --param bucket_name=<bucket>`],
    });
  }
  return b;
}

/** Permission-group names for scopes; none asked: every service's plus the base (missing ones skipped, not fatal). */
export function groupsFor(scopes: string[] | undefined): { groups: string[]; lenient: boolean } {
  if (scopes?.length) {
    const unknown = scopes.filter((s) => !SCOPE_PERMISSION_GROUPS[s]);
    if (unknown.length) {
      throw new AgentprovError('USAGE', `cloudflare has no scope ${unknown.map((s) => `"${s.slice(0, 64)}"`).join(', ')}`, {
        details: { provider: CLOUDFLARE_PROVIDER_ID, known_scopes: Object.keys(SCOPE_PERMISSION_GROUPS).join(' ') },
      });
    }
    return { groups: [...new Set(scopes.flatMap((s) => SCOPE_PERMISSION_GROUPS[s]!))], lenient: false };
  }
  const all = new Set([...BASE_SCOPES, ...CLOUDFLARE_SERVICES.flatMap((s) => s.scopes)]);
  return { groups: [...new Set([...all].flatMap((s) => SCOPE_PERMISSION_GROUPS[s] ?? []))], lenient: true };
}
