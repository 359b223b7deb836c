/**
 * `init`'s guidance step (issue 20): the agent skill is always written
 * (`.agents/skills/agentprov/SKILL.md`); the same skill for Claude Code
 * (`.claude/skills/`) and agentprov's block in `AGENTS.md` only when the
 * user agrees: asked on a terminal, `--claude-skill` / `--agents-md`
 * otherwise. `init --skills-only` does this step alone (no sign-in).
 */
import type { Deps } from '../core/deps.js';
import { writeAgentsMd, writeSkill, type GuidanceWrite } from '../project/guidance.js';

export async function writeGuidance(deps: Deps, opts: Record<string, unknown>): Promise<GuidanceWrite[]> {
  const written = [writeSkill(deps.cwd, 'agents')];
  const ask = async (flag: unknown, question: string): Promise<boolean> => Boolean(flag) || (deps.canPrompt() && (await deps.prompter.confirm(question, false)));
  if (await ask(opts.claudeSkill, 'Also write the agentprov skill for Claude Code (.claude/skills/agentprov/SKILL.md)?')) written.push(writeSkill(deps.cwd, 'claude'));
  if (await ask(opts.agentsMd, 'Add agentprov notes to AGENTS.md (in a delimited block; the rest stays as it is)?')) written.push(writeAgentsMd(deps.cwd));
  return written;
}
