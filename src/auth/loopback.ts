/**
 * A one-shot loopback redirect listener for native apps (RFC 8252 §7.3):
 * 127.0.0.1, a random port, path /callback. It answers the first request to
 * /callback with a short page, hands the full callback URL to the caller and
 * closes. Validation of what the URL carries is openid-client's job.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentprovError } from '../core/errors.js';

export interface CallbackListener {
  redirectUri: string;
  /** The callback URL, or AUTHORIZATION_TIMEOUT after `timeoutMs`. */
  received: Promise<URL>;
  close(): void;
}

const PAGE = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>agentprov</title></head>
<body style="font-family:system-ui,sans-serif;padding:40px"><h1 id="agentprov-done">agentprov received the sign-in response.</h1>
<p>You can close this tab and return to the terminal.</p></body></html>`;

export async function startCallbackListener(timeoutMs: number): Promise<CallbackListener> {
  let resolve!: (u: URL) => void;
  let reject!: (e: Error) => void;
  const received = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  received.catch(() => undefined);
  let done = false;
  const server = createServer((req, res) => {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const url = URL.parse(req.url ?? '/', base);
    if (done || req.method !== 'GET' || !url || url.pathname !== '/callback') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    done = true;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(PAGE);
    resolve(url);
    close();
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const timer = setTimeout(() => {
    reject(
      new AgentprovError('AUTHORIZATION_TIMEOUT', `no sign-in response arrived within ${Math.round(timeoutMs / 1000)} s`, {
        nextSteps: ['agentprov login', 'agentprov login --device'],
      }),
    );
    close();
  }, timeoutMs);
  function close(): void {
    clearTimeout(timer);
    server.close();
    server.closeIdleConnections();
  }
  return { redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`, received, close };
}
