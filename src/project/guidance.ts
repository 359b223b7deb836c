/**
 * What an agent is told about agentprov, in the places agents read (issue
 * 20): a skill (`.agents/skills/agentprov/SKILL.md`, and the same under
 * `.claude/skills/`), a delimited block in `AGENTS.md`, and the compact
 * guidance `agentprov llm-context` prints. One text, so they never disagree.
 * agentprov rewrites only what it wrote: a SKILL.md without its marker, and
 * AGENTS.md outside its block, are left as they are.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeTextAtomic } from '../util/atomic-file.js';

export const SKILL_DIRS = { agents: join('.agents', 'skills', 'agentprov'), claude: join('.claude', 'skills', 'agentprov') } as const;
export type SkillTarget = keyof typeof SKILL_DIRS;

const SKILL_MARKER = '<!-- agentprov:skill (written by agentprov init; refresh with: agentprov init --skills-only) -->';
export const BLOCK_START = '<!-- agentprov:begin (written by agentprov init; edit outside this block) -->';
export const BLOCK_END = '<!-- agentprov:end -->';

/** The compact guidance: the workflow and the contract, in few tokens (llm-context, AGENTS.md). */
export const COMPACT_GUIDANCE = `agentprov provisions services at external providers for the signed-in human; you never hold a long-lived secret.
Workflow: \`agentprov catalog --compact --json\` (or \`search <words>\`) → \`agentprov catalog <provider>/<service> --json\` (config schema) → \`agentprov add <provider>/<service> --name <name> [--config '<json>'] --json\` → \`agentprov run --resource <name> -- <command>\` (credentials in its environment, short-lived, revoked at exit). \`agentprov list --json\` / \`status --json\` show what exists.
Always pass --json and read the one envelope on stdout: ok, data or error {code, message, details}, next_steps.
Exit 3 means a human must act (NOT_SIGNED_IN, AUTHORIZATION_PENDING, CONSENT_REQUIRED, TERMS_ACCEPTANCE_REQUIRED, PAID_CONFIRMATION_REQUIRED, CAP_RAISE_APPROVAL_REQUIRED, CONFIRMATION_REQUIRED): show the human error.details.verification_uri and user_code (or the terms, or the price), wait for them, then run next_steps[0] (e.g. \`agentprov login --complete\`, \`add … --complete\`). Exit 4: money refused (cap, price limit). Exit 5: the provider failed; retrying is safe.
Pass --accept-tos, --confirm-paid-service, --max-price or remove --yes only after the human said yes. Never read agentprov's vault or state files, never ask for a token, never raise a budget cap yourself (\`agentprov budget set\` needs the human's approval).`;

export function skillText(): string {
  return `---
name: agentprov
description: Provision external services (databases, KV, queues, domains, APIs) for the signed-in human with agentprov, and run commands with short-lived credentials; use when a task needs a service account, an API key or a new cloud resource.
---
${SKILL_MARKER}

# agentprov

agentprov lets you provision services at external providers for the human who signed in, without ever holding a long-lived secret. Credentials stay in agentprov's vault; commands get short-lived ones.

## Workflow: catalog → add → run

1. Find a service: \`agentprov catalog --compact --json\` (one line per service: id, price, ", confirm" when adding it needs the human's paid yes) or \`agentprov search <words> --json\`.
2. Read its config schema: \`agentprov catalog <provider>/<service> --json\`.
3. Check what blocks it, changing nothing: \`agentprov add <provider>/<service> --name <name> --preflight --json\`.
4. Provision: \`agentprov add <provider>/<service> --name <name> [--config '<json>'] --json\`. Idempotent: the same command again resumes or does nothing.
5. Use it: \`agentprov run --resource <name> -- <command> [args...]\`. The command gets the catalog's environment variables with short-lived credentials, revoked when it ends; its output is masked.
6. See what exists: \`agentprov list --json\`, \`agentprov status --json\`, \`agentprov spend --json\`.
7. When the human wants to look at a resource at its provider: \`agentprov open <name> --json\`. \`data.url\` is a single-use sign-in link for the human (10 minutes): give it to them and nobody else; never store, log or reuse it.
8. Which variables a run would set, and from where (never values): \`agentprov env [<name>...] --json\`. Change a plan: \`agentprov update <name> --service <id> --json\` (a paid change needs the human's yes, as add). If the human fears a leak: \`agentprov revoke <provider> --yes --json\` (or \`--all\`), only after the human said yes.

Agents that speak MCP can use \`agentprov mcp\` (tools: catalog, search, add, login, list, status, remove, spend, budget_show, run, env, update, revoke) instead of the command line.

## Reading results

Always pass \`--json\`: stdout is one envelope \`{ok, command, data | error: {code, message, details}, warnings, next_steps, version, meta}\`. Logs are on stderr.

## Human steps (exit code 3)

Exit 3 means the human must act. Do not retry in a loop and do not work around it:

- \`NOT_SIGNED_IN\`: run \`agentprov login --json\`; it answers \`AUTHORIZATION_PENDING\` with \`details.verification_uri\` and \`details.user_code\`.
- \`AUTHORIZATION_PENDING\`, \`CONSENT_REQUIRED\`, \`CAP_RAISE_APPROVAL_REQUIRED\`: show the human the URL and the code; once they approved, run \`next_steps[0]\` (\`agentprov login --complete\`, \`agentprov add … --complete\`).
- \`TERMS_ACCEPTANCE_REQUIRED\`: show the terms URL; only after the human accepts, add \`--accept-tos\`.
- \`PAID_CONFIRMATION_REQUIRED\`: tell the human the price; only after they agree, add \`--confirm-paid-service\` (and \`--max-price\` to bound it).
- \`CONFIRMATION_REQUIRED\` (remove): only with the human's yes, \`agentprov remove <name> --yes\`.

Exit 4: money was refused (a cap or \`--max-price\`): tell the human; only they can raise a cap. Exit 5: the provider failed; the same command again is safe (never provisions or charges twice). Exit 2: your command was wrong; read \`error.message\`.

## Never

- Never read, copy or print agentprov's vault, state or config files, and never ask the human for an API key or token: \`agentprov run\` hands credentials to the command that needs them.
- Never pass \`--accept-tos\`, \`--confirm-paid-service\`, \`--max-price\` or \`--yes\` without the human's explicit yes.
- Never try to raise a budget cap yourself.

Compact guidance and catalog for your context: \`agentprov llm-context\`.
`;
}

export interface GuidanceWrite {
  path: string;
  status: 'written' | 'unchanged' | 'kept (not written by agentprov)';
}

/** Write the skill under `cwd` for `target`, unless a file there is not agentprov's. */
export function writeSkill(cwd: string, target: SkillTarget): GuidanceWrite {
  const path = join(cwd, SKILL_DIRS[target], 'SKILL.md');
  const text = skillText();
  if (existsSync(path)) {
    const old = readFileSync(path, 'utf8');
    if (old === text) return { path, status: 'unchanged' };
    if (!old.includes(SKILL_MARKER)) return { path, status: 'kept (not written by agentprov)' };
  }
  mkdirSync(dirname(path), { recursive: true });
  writeTextAtomic(path, text);
  return { path, status: 'written' };
}

/** AGENTS.md with agentprov's block put in (or replaced); every other line stays as it was. */
export function withAgentsBlock(existing: string, guidance: string = COMPACT_GUIDANCE): string {
  const block = `${BLOCK_START}\n## agentprov\n\n${guidance}\n${BLOCK_END}`;
  const start = existing.indexOf(BLOCK_START);
  const end = existing.indexOf(BLOCK_END, start);
  if (start >= 0 && end > start) return existing.slice(0, start) + block + existing.slice(end + BLOCK_END.length);
  if (!existing) return `${block}\n`;
  return `${existing}${existing.endsWith('\n') ? '' : '\n'}\n${block}\n`;
}

export function writeAgentsMd(cwd: string): GuidanceWrite {
  const path = join(cwd, 'AGENTS.md');
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const next = withAgentsBlock(old);
  if (next === old) return { path, status: 'unchanged' };
  writeTextAtomic(path, next);
  return { path, status: 'written' };
}
