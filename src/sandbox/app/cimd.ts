/**
 * The sandbox APP provider's side of CIMD registration: fetch the client's
 * Client ID Metadata Document from its URL (https, or http on loopback only;
 * < 5 KB; 5 s), check it (client_id equals its URL, redirect_uris), and
 * return what the provider keeps of it.
 */
import { AppClientMetadata, cimdUrlProblem, MAX_CIMD_BYTES } from '../../wire/app.js';
import { AppError } from './state.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
export const isLoopback = (host: string): boolean => LOOPBACK.has(host.toLowerCase());

export async function fetchClientMetadata(clientId: string): Promise<{ client_name: string; redirect_uris: string[] }> {
  const bad = (why: string): AppError => new AppError(400, 'invalid_client', `client metadata document ${why}`);
  const problem = cimdUrlProblem(clientId, isLoopback);
  if (problem) throw bad(`URL ${problem}`);
  let res: Response;
  try {
    res = await fetch(clientId, { signal: AbortSignal.timeout(5000), redirect: 'error', headers: { accept: 'application/json' } });
  } catch {
    throw bad('could not be fetched');
  }
  if (res.status !== 200) throw bad(`answered ${res.status}`);
  if (!/^application\/json\b/i.test(res.headers.get('content-type') ?? '')) throw bad('is not application/json');
  const reader = res.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader?.read();
    if (!r || r.done) break;
    size += r.value.byteLength;
    if (size >= MAX_CIMD_BYTES) {
      await reader?.cancel();
      throw bad(`is larger than ${MAX_CIMD_BYTES} bytes`);
    }
    chunks.push(r.value);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw bad('is not JSON');
  }
  const parsed = AppClientMetadata.safeParse(raw);
  if (!parsed.success) throw bad(`is invalid at ${parsed.error.issues[0]?.path.join('.')}`);
  const doc = parsed.data;
  if (doc.client_id !== clientId) throw bad('names another client_id than its own URL');
  for (const uri of doc.redirect_uris) if (cimdUrlProblem(uri, isLoopback) === 'must be https (http only on loopback)') throw bad('has a redirect_uri that is not https');
  return { client_name: doc.client_name, redirect_uris: doc.redirect_uris };
}
