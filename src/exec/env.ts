/**
 * The wrapped command's environment (aws-vault `exec`'s rule): start from
 * agentprov's own, remove inherited credentials of the providers in play
 * (every env name their catalogs declare, also prefixed) and agentprov's own
 * secret variables, then add the fresh values and the nesting marker.
 */

/** Set in the child; `run` refuses to start when it sees it (unless --nested). */
export const RUN_MARKER = 'AGENTPROV_RUN';

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|PASSPHRASE|KEY|CREDENTIAL)S?($|_)/i;

export function isAgentprovSecret(name: string): boolean {
  return name.toUpperCase().startsWith('AGENTPROV_') && SECRET_NAME.test(name.slice('AGENTPROV_'.length));
}

export function childEnv(parent: NodeJS.ProcessEnv, strip: Iterable<string>, inject: Record<string, string>): NodeJS.ProcessEnv {
  const names = [...strip].map((n) => n.toUpperCase());
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(parent)) {
    if (v === undefined) continue;
    const K = k.toUpperCase();
    if (isAgentprovSecret(k)) continue;
    if (names.some((n) => K === n || K.endsWith(`_${n}`))) continue;
    env[k] = v;
  }
  const depth = Number(parent[RUN_MARKER] ?? 0);
  return { ...env, ...inject, [RUN_MARKER]: String((Number.isInteger(depth) && depth > 0 ? depth : 0) + 1) };
}

/** `cache` + `LOCALCLOUD_KV_URL` → `CACHE_LOCALCLOUD_KV_URL`. */
export function prefixed(resourceName: string, envName: string): string {
  return `${resourceName.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_${envName}`;
}
