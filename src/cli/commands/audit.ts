/**
 * `agentprov audit [--verify] [--limit N]`: show the local audit log (a
 * table on a terminal, the raw JSON lines when piped, the envelope with
 * --json), or check its hash chain: exit 0 when intact, AUDIT_TAMPERED
 * naming the first broken line otherwise. No network, no vault.
 */
import { auditPath, scanAudit, verifyAudit, type AuditEntry, type AuditVerification } from '../../audit/log.js';
import { AgentprovError } from '../../core/errors.js';
import type { Deps } from '../deps.js';
import type { CommandResult } from '../output.js';
import { sanitizeLine, truncate } from '../../util/sanitize.js';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100_000;

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const path = auditPath(deps.paths.state);
  if (opts.verify) {
    const v = await verifyAudit(path);
    if (!v.ok) throw tampered(v);
    return {
      data: { intact: true, path, lines: v.lines, head: v.head },
      human: v.lines ? `audit log intact: ${v.lines} line${v.lines === 1 ? '' : 's'} (${path})` : `audit log empty (${path})`,
    };
  }

  const limit = limitOption(opts.limit);
  const { verification: v, entries, raw } = await scanAudit(path, limit);
  const warnings = v.ok ? [] : [`${v.message}; run agentprov audit --verify`];
  const nextSteps = v.ok ? [] : ['agentprov audit --verify'];
  const data = { path, intact: v.ok, total: v.lines, shown: entries.length, entries };
  if (entries.length === 0) {
    return { data, warnings, nextSteps, human: deps.io.stdoutIsTTY ? `no audit records (${path})` : '' };
  }
  return { data, warnings, nextSteps, human: table(entries, deps.io.columns), bare: raw.join('\n') };
}

export function tampered(v: Extract<AuditVerification, { ok: false }>): AgentprovError {
  return new AgentprovError('AUDIT_TAMPERED', `the audit log does not verify: ${v.message}`, {
    details: { path: v.path, line: v.line, reason: v.reason, lines: v.lines },
    nextSteps: [`inspect line ${v.line} of ${v.path}`],
  });
}

function limitOption(value: unknown): number {
  if (value === undefined) return DEFAULT_LIMIT;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw new AgentprovError('USAGE', `--limit must be a whole number between 1 and ${MAX_LIMIT}, not "${String(value)}"`);
  return n;
}

function table(entries: AuditEntry[], columns: number): string {
  const rows = entries.map((e) => [
    String(e.seq),
    e.time.replace(/\.\d+Z$/, 'Z'),
    e.command,
    e.decision,
    [e.provider, e.resource].filter(Boolean).join('/') || '-',
    String(e.pid),
    e.parent_cmdline ?? '-',
  ].map((cell) => sanitizeLine(cell)));
  const head = ['SEQ', 'TIME', 'COMMAND', 'DECISION', 'TARGET', 'PID', 'PARENT'];
  const widths = head.slice(0, -1).map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]): string =>
    truncate(cells.map((c, i) => (i < widths.length ? truncate(c, widths[i]!).padEnd(widths[i]!) : c)).join('  '), Math.max(40, columns));
  return [line(head), ...rows.map(line)].join('\n');
}
