/**
 * The audit lines of the provisioning commands (add, up, remove, rotate)
 * go through here: written to the hash-chained log (src/audit/log.ts), and
 * when that fails, a warning in the command's result. A provision that was
 * made is never lost for want of its audit line.
 */
import { appendAudit, type AuditRecord } from '../audit/log.js';
import type { Deps } from '../core/deps.js';
import { sanitizeLine } from '../util/sanitize.js';

/** An audit line; a failure to write it becomes a warning, never a lost provision. */
export async function audit(deps: Deps, record: AuditRecord, warnings: string[]): Promise<void> {
  try {
    await appendAudit(deps, record);
  } catch (err) {
    warnings.push(`audit log not written (${sanitizeLine((err as Error)?.message ?? String(err)).slice(0, 200)})`);
  }
}
