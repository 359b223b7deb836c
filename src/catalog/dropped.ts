/**
 * The warning for a service dropped from a provider's catalog (it failed
 * its schema, or nests too deeply), said when the catalog is parsed
 * (validate.ts) and kept with the cached catalog; and reading it back, so
 * `add` of a listed service agentprov cannot use names why (the provider's
 * answer) instead of "no such service". No zod here: this is on the add path
 * before anything needs it.
 */

export function droppedServiceWarning(provider: string, service: string, why: string): string {
  return `provider ${provider}: service "${service}" dropped: ${why}`;
}

/** Why `provider`'s catalog dropped `service`, if it did. */
export function whyDropped(warnings: readonly string[], provider: string, service: string): string | undefined {
  const prefix = droppedServiceWarning(provider, service, '');
  return warnings.find((w) => w.startsWith(prefix))?.slice(prefix.length);
}
