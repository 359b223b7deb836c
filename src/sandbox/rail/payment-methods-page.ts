/**
 * The page a human is sent to when the rail answers PAYMENT_METHOD_REQUIRED.
 * The sandbox never collects card data: which users have a payment method is
 * fixed by the sandbox's configuration, so this page only explains that.
 */
import type { ServerResponse } from 'node:http';
import { sendHtml } from '../shared/http.js';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Payment methods · agentprov sandbox rail</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}</style>
</head>
<body>
<h1>Payment methods</h1>
<p>This is the <strong>agentprov sandbox</strong> payment rail. A real orchestrator
would let you add a card or bank account here; card data never reaches
agentprov or the providers.</p>
<p>In the sandbox no card is ever collected: the demo user
(<code>demo@agentprov.test</code>) has a test payment method and
<code>second@agentprov.test</code> has none, so paid services refuse it with
<code>PAYMENT_METHOD_REQUIRED</code>. Sign in as the demo user to try paid services.</p>
</body>
</html>
`;

export function sendPaymentMethodsPage(res: ServerResponse): void {
  sendHtml(res, 200, PAGE, {
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
    'x-content-type-options': 'nosniff',
  });
}
