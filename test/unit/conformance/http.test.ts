/**
 * The checker's details show what came back: every value under a
 * secret-named field, sent or received, is masked there even when no check
 * registered it (a provider answering in an unexpected shape included).
 */
import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { MASK, Redactor } from '../../../src/core/io.js';
import { ConformanceHttp } from '../../../src/conformance/http.js';

describe('ConformanceHttp details', () => {
  it('masks tokens and keys of any answer and of what was sent, and keeps identifiers', async () => {
    const server = createServer((req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'odd', access_token: 'leaked-access-token-1', account_id: 'acct_visible', deep: [{ api_key: 'leaked-api-key-22' }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const http = new ConformanceHttp(new Redactor());
    try {
      const a = await http.send('POST', `http://127.0.0.1:${(server.address() as { port: number }).port}/oauth/token`, {
        form: { grant_type: 'refresh_token', refresh_token: 'sent-refresh-token-333' },
      });
      const detail = http.describe(a);
      expect(detail).toContain('acct_visible');
      expect(detail).toContain(MASK);
      for (const secret of ['leaked-access-token-1', 'leaked-api-key-22']) expect(detail).not.toContain(secret);
      expect(http.line('the request carried sent-refresh-token-333')).not.toContain('sent-refresh-token-333');
    } finally {
      await http.close();
      server.close();
    }
  });
});
