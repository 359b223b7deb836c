/**
 * One writer at a time across processes (util/file-lock.ts, as the vault
 * does). Readers that verify take it too, so they never see a line that is
 * still being written.
 */
import { withFileLock } from '../util/file-lock.js';

export function withAuditLock<T>(logPath: string, fn: () => Promise<T>): Promise<T> {
  return withFileLock(logPath, { code: 'AUDIT_LOCKED', what: 'the audit log' }, fn);
}
