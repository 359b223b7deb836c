/**
 * Reads an orchestrator descriptor (`GET /.well-known/agent-orchestrator`,
 * schema in protocol/orchestrator.ts): size-, time- and schema-bounded.
 */
import { request } from 'undici';
import { AgentprovError } from '../cli/errors.js';
import { ORCHESTRATOR_DESCRIPTOR_PATH, OrchestratorDescriptor } from '../protocol/orchestrator.js';
import { parseIssuerUrl } from './issuer.js';

const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 10_000;

export async function fetchOrchestratorDescriptor(orchestrator: string): Promise<{ url: string; descriptor: OrchestratorDescriptor }> {
  const base = parseIssuerUrl(orchestrator, '--orchestrator');
  const url = base.pathname.endsWith(ORCHESTRATOR_DESCRIPTOR_PATH) ? base : new URL(ORCHESTRATOR_DESCRIPTOR_PATH, base);
  const invalid = (why: string): AgentprovError =>
    new AgentprovError('INVALID_ORCHESTRATOR_DESCRIPTOR', `the orchestrator descriptor at ${url.href} is invalid: ${why}`, {
      details: { url: url.href },
      nextSteps: ['check the --orchestrator URL'],
    });

  let text: string;
  try {
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      headersTimeout: TIMEOUT_MS,
      bodyTimeout: TIMEOUT_MS,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw invalid(`HTTP ${res.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_BYTES) {
        res.body.destroy();
        throw invalid(`larger than ${MAX_BYTES} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof AgentprovError) throw err;
    throw new AgentprovError('ORCHESTRATOR_UNREACHABLE', `the orchestrator ${base.origin} did not answer: ${(err as Error).message}`, {
      details: { url: url.href },
      nextSteps: ['check the network and the --orchestrator URL, then retry'],
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const parsed = OrchestratorDescriptor.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`"${issue?.path.join('.') || '(root)'}": ${issue?.message}`);
  }
  return { url: base.href.replace(/\/$/, ''), descriptor: parsed.data };
}
