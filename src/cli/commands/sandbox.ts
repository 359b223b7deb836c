/**
 * `agentprov sandbox`: start every counterpart on loopback, print one ready
 * line (the envelope under --json), and run until SIGINT/SIGTERM, then shut
 * down cleanly.
 */
import { join, resolve } from 'node:path';
import type { Deps } from '../deps.js';
import { AgentprovError } from '../../core/errors.js';
import { handleInterruptWith } from '../../core/interrupt.js';
import { renderSuccess, type CommandResult } from '../output.js';
import { readSecretFromStdin } from '../stdin.js';

export async function run(deps: Deps, _args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const port = opts.port === undefined ? 0 : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_530) throw new AgentprovError('USAGE', `--port must be a port number, not "${String(opts.port)}"`);
  const dataDir = resolve(deps.cwd, typeof opts.dataDir === 'string' ? opts.dataDir : join(deps.paths.state, 'sandbox'));
  const autoApprove = Boolean(opts.autoApprove);
  const trustedIssuers = trustIssuers(opts.trustIssuer);
  // The Stripe-signed surface of appcloud (docs/protocol.md §APP.6), for checking a checker: the secret from stdin only.
  const appStripeSigningSecret = opts.appStripeSigningSecretStdin
    ? await readSecretFromStdin(deps.io, 'Stripe signing secret', { maxBytes: 1024, deadlineMs: 10_000, nextSteps: ['printf %s "$SECRET" | agentprov sandbox --app-stripe-signing-secret-stdin'] })
    : undefined;
  if (appStripeSigningSecret) deps.io.redactor.add(appStripeSigningSecret);

  // Listen for the stop signals before starting, so a signal that comes right
  // after the ready line (or during start-up) is never the default action.
  // The SIGTERM listener is never removed: the program ends right after the
  // shutdown, and signal-exit (bundled in three copies by dependencies) may
  // re-raise the signal when it miscounts the listeners; ours absorbs it.
  let stop = (): void => {};
  const stopped = new Promise<void>((done) => (stop = done));
  const unregister = handleInterruptWith(stop);
  process.on('SIGTERM', stop);
  const { startSandbox } = await import('../../sandbox/index.js');
  const sandbox = await startSandbox({
    dataDir,
    port,
    autoApprove,
    ...(trustedIssuers.length ? { trustedIssuers } : {}),
    ...(appStripeSigningSecret ? { appStripeSigningSecret } : {}),
  });
  const data = {
    orchestrator: sandbox.orchestrator,
    issuer: sandbox.issuer,
    payment_rail: sandbox.paymentRail,
    providers: sandbox.providers,
    app_providers: [{ id: sandbox.app.id, url: sandbox.app.url, protocol: 'app' }],
    data_dir: dataDir,
    auto_approve: autoApprove,
    users: [
      { email: 'demo@agentprov.test', password: 'demo', payment_method: true },
      { email: 'second@agentprov.test', password: 'second', payment_method: false },
    ],
  };
  renderSuccess(deps.io, deps.globals.json, 'sandbox', {
    data,
    warnings: autoApprove ? ['auto-approve is ON: device codes and consent are approved for the demo user without a browser (demo only)'] : [],
    nextSteps: [`agentprov init --orchestrator ${sandbox.orchestrator}`],
    human: [
      `agentprov sandbox is running${autoApprove ? ' (auto-approve ON: demo only)' : ''}`,
      `  orchestrator  ${sandbox.orchestrator}`,
      `  payment rail  ${sandbox.paymentRail}`,
      ...sandbox.providers.map((p) => `  ${p.id.padEnd(13)} ${p.url}`),
      `  ${sandbox.app.id.padEnd(13)} ${sandbox.app.url} (APP 0.1d: agentprov providers add ${sandbox.app.url} --protocol app)`,
      `  data dir      ${dataDir}`,
      `  users         demo@agentprov.test / demo, second@agentprov.test / second (no payment method)`,
      'Press Ctrl-C to stop.',
    ].join('\n'),
  });

  await stopped;
  await sandbox.stop();
  unregister();
  if (!deps.globals.json) deps.io.err('sandbox stopped\n');
  return { data, printed: true };
}

/** `--trust-issuer <url>` (repeatable): more orchestrators localcloud trusts, their JWKS at `<url>/jwks` (the conformance checker's). */
function trustIssuers(raw: unknown): Array<{ issuer: string; jwksUri: string }> {
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map((v) => {
    let url: URL;
    try {
      url = new URL(String(v));
    } catch {
      throw new AgentprovError('USAGE', `--trust-issuer must be a URL, not "${String(v)}"`);
    }
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))) {
      throw new AgentprovError('USAGE', '--trust-issuer must be https (http only on loopback)');
    }
    const issuer = url.href.replace(/\/$/, '');
    return { issuer, jwksUri: `${issuer}/jwks` };
  });
}
