/**
 * Reads an orchestrator descriptor (`GET /.well-known/agent-orchestrator`,
 * schema in protocol/orchestrator.ts): size-, time- and schema-bounded.
 */
import { AgentprovError } from '../core/errors.js';
import { ORCHESTRATOR_DESCRIPTOR_PATH, OrchestratorDescriptor } from '../wire/orchestrator.js';
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
  const { createFetcher, FetchError } = await import('../http/fetch.js');
  const fetcher = createFetcher({ headersTimeoutMs: TIMEOUT_MS, bodyTimeoutMs: TIMEOUT_MS });
  try {
    // No redirects: the descriptor must be where the --orchestrator URL says.
    const doc = await fetcher.get(url.href, { signal: AbortSignal.timeout(TIMEOUT_MS), maxBytes: MAX_BYTES, followRedirects: false });
    text = doc.body!.toString('utf8');
  } catch (err) {
    if (err instanceof FetchError && err.reason === 'http_status') throw invalid(`HTTP ${err.status}`);
    if (err instanceof FetchError && err.reason === 'too_large') throw invalid(`larger than ${MAX_BYTES} bytes`);
    throw new AgentprovError('ORCHESTRATOR_UNREACHABLE', `the orchestrator ${base.origin} did not answer: ${(err as Error).message}`, {
      details: { url: url.href },
      nextSteps: ['check the network and the --orchestrator URL, then retry'],
      cause: err,
    });
  } finally {
    await fetcher.close().catch(() => undefined);
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
