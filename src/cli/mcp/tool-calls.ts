/**
 * Between tool calls and command lines: a tool's arguments as the command's
 * operands and options (`toCommand`), and a command's `next_steps` line as
 * the tool call that does the same (`toToolCall`).
 */
import { TOOLS, type ToolDef } from './tools.js';

/** The command's operands and options for these tool arguments, as commander would give them. */
export function toCommand(tool: ToolDef, a: Record<string, unknown>): { args: string[]; opts: Record<string, unknown> } {
  const args = [...(tool.fixed ?? [])];
  for (const p of tool.positional) {
    const v = a[p.arg];
    if (typeof v === 'string' && v.trim()) args.push(...(p.words ? v.trim().split(/\s+/) : [v]));
  }
  const opts: Record<string, unknown> = { json: true, input: false, ...tool.always };
  for (const f of Object.values(tool.flags)) {
    const v = a[f.arg];
    if (v === undefined) continue;
    opts[f.opt] = f.kind === 'json' ? JSON.stringify(v) : f.kind === 'number' ? String(v) : v;
  }
  return { args, opts };
}

/**
 * A `next_steps` line (`agentprov add p/s --name x --complete`) as the tool
 * call that does the same, or undefined when no tool does (a step for the
 * human, a command not offered here).
 */
export function toToolCall(line: string): { tool: string; arguments: Record<string, unknown> } | undefined {
  const words = shellWords(line);
  if (words?.[0] !== 'agentprov') return undefined;
  const tool = TOOLS.filter((t) => t.path.every((p, i) => words[1 + i] === p) || (t.fixed && t.path[0] === words[1] && words.length === 2)).sort((x, y) => y.path.length - x.path.length)[0];
  if (!tool) return undefined;
  const out: Record<string, unknown> = {};
  const operands: string[] = [];
  const rest = words.slice(1 + (words[2] === tool.path[1] ? tool.path.length : 1));
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (!w.startsWith('--')) {
      operands.push(w);
      continue;
    }
    const f = tool.flags[w];
    if (!f) return undefined; // a flag this tool cannot pass: not a call to suggest
    if (w === '--no-refresh') out.refresh = false;
    else if (f.kind === 'bool') out[f.arg] = true;
    else {
      const v = rest[++i];
      if (v === undefined || v.startsWith('<')) return undefined;
      if (f.kind === 'json') {
        try {
          out[f.arg] = JSON.parse(v);
        } catch {
          return undefined;
        }
      } else if (f.kind === 'number') out[f.arg] = Number(v);
      else if (f.kind === 'list') out[f.arg] = [...((out[f.arg] as string[] | undefined) ?? []), v];
      else out[f.arg] = v;
    }
  }
  if (operands.some((o) => o.includes('<'))) return undefined; // a placeholder: the agent fills it in
  tool.positional.forEach((p, i) => {
    if (p.words) operands.length && (out[p.arg] = operands.splice(0).join(' '));
    else if (operands[i] !== undefined) out[p.arg] = operands[i];
  });
  delete out.device;
  return { tool: tool.name, arguments: out };
}

/** Words of a command line as next_steps write them: spaces, and single quotes as add's resume line quotes config. */
function shellWords(line: string): string[] | undefined {
  const out: string[] = [];
  const re = /\s*(?:'((?:[^']|'\\'')*)'|(\S+))/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line)) && m[0].trim()) out.push(m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!);
  return out.length ? out : undefined;
}
