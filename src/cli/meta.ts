/**
 * What every JSON envelope says beside the command's data (issue 20):
 * agentprov's version, and `meta` (who is signed in, which project). Cheap
 * on purpose, as it is on every `--json` run: no vault, no zod, only the
 * identity file `whoami` reads (src/auth/identity.ts; written at sign-in,
 * removed by logout and by any vault write that leaves no session) and the
 * nearest agentprov.json.
 */
import { existsSync } from 'node:fs';
import { identityPath } from '../auth/identity.js';
import { resolvePaths } from '../core/paths.js';
import { findManifest } from '../project/locate.js';

declare const __AGENTPROV_VERSION__: string | undefined;
/** package.json's version, injected by the build (tsup.config.ts `define`). */
export const VERSION = typeof __AGENTPROV_VERSION__ === 'string' ? __AGENTPROV_VERSION__ : '0.0.0-dev';

export interface EnvelopeMeta {
  /** A session was seen and not signed out since (the identity file); `whoami` checks it against the vault. */
  signed_in: boolean;
  /** The nearest agentprov.json from the working directory, or null. */
  project: string | null;
}

export interface EnvelopeContext {
  version: string;
  meta: EnvelopeMeta;
}

export function envelopeContext(env: NodeJS.ProcessEnv, cwd: string): EnvelopeContext {
  let signedIn = false;
  let project: string | null = null;
  try {
    signedIn = existsSync(identityPath(resolvePaths(env).state));
  } catch {
    /* no state dir to look at: not signed in */
  }
  try {
    project = findManifest(cwd) ?? null;
  } catch {
    /* an unreadable directory: no project */
  }
  return { version: VERSION, meta: { signed_in: signedIn, project } };
}
