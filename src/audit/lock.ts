/**
 * One writer at a time across processes (proper-lockfile, as the vault
 * does). Readers that verify take it too, so they never see a line that is
 * still being written.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { AgentprovError } from '../cli/errors.js';

export async function withAuditLock<T>(logPath: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(dirname(logPath), { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(logPath, {
      realpath: false,
      lockfilePath: `${logPath}.lock`,
      stale: 15_000,
      retries: { retries: 200, minTimeout: 10, maxTimeout: 150, randomize: true },
    });
  } catch (err) {
    throw new AgentprovError('AUDIT_LOCKED', `another agentprov process holds the audit log lock (${logPath}.lock) for too long`, {
      details: { path: `${logPath}.lock` },
      cause: err,
    });
  }
  try {
    return await fn();
  } finally {
    await release();
  }
}
