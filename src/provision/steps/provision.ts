/**
 * Step 4 of an add, provision and poll (docs/protocol.md §4.1, §4.2, §8):
 *
 * - an entry already `pending` only asks the provider how that provision is
 *   doing (never a second POST);
 * - otherwise the hold is taken, the journal moves to `sent`, and the
 *   provision is POSTed with the journal's Idempotency-Key; a transient
 *   failure (unreachable, 502/503) is retried with the SAME key, and a 402
 *   with a quote is paid (steps/pay.ts) and sent again with the same key;
 * - a 202 is journaled `pending` and polled with backoff up to the bound
 *   (poll.ts); still pending then is no error: the same command resumes.
 *
 * A definite refusal of the request (bad input, money; for a provider that
 * bills itself also "a human must act": nothing was bought) leaves the key
 * unbound: the entry fails and the hold is given back (steps/record.ts), so
 * the next add starts afresh. Anything else (unreachable, 5xx, garbage, a
 * crash) may have created it: the entry stays `sent`, the hold stays held,
 * and a re-run replays the key and finds what this attempt made.
 */
import type { Deps } from '../../core/deps.js';
import { AgentprovError, EXIT, isAgentprovError } from '../../core/errors.js';
import type { Provision } from '../../wire/provider.js';
import type { Provider } from '../../providers/provider.js';
import { sanitizeLine } from '../../util/sanitize.js';
import { advance, withNextSteps, type Attempt } from '../attempt.js';
import { pollProvision } from '../poll.js';
import { holdBeforeSending, payQuote, type Spending } from './pay.js';
import { recordFailure } from './record.js';
import { withSameKey } from './retry.js';

export async function provisionAndPoll(deps: Deps, provider: Provider, attempt: Attempt, spending: Spending): Promise<Provision> {
  const { service, name } = attempt.req;
  let provision = await sendOrLookUp(deps, provider, attempt, spending);
  checkProvision(provision, attempt);
  await advance(deps, attempt, { state: provision.status === 'pending' ? 'pending' : attempt.entry.state, provision_id: provision.id, provision_status: provision.status });
  if (provision.status === 'pending') {
    provision = await pollProvision(deps, provider, provision, attempt.req.waitSeconds, `${service.provider}/${service.id} ${name}`);
    checkProvision(provision, attempt);
  }
  return provision;
}

async function sendOrLookUp(deps: Deps, provider: Provider, attempt: Attempt, spending: Spending): Promise<Provision> {
  const { req } = attempt;
  const { service, name } = req;
  if (attempt.entry.state === 'pending' && attempt.entry.provision_id) return provider.get(attempt.entry.provision_id, name);
  await holdBeforeSending(deps, attempt, spending);
  if (attempt.entry.state === 'intended') await advance(deps, attempt, { state: 'sent' });
  try {
    const input = { service: service.id, name, config: req.config, idempotencyKey: attempt.entry.idempotency_key };
    try {
      return await provisionWithRetry(deps, provider, input);
    } catch (err) {
      // A 402 with a quote: paid (or refused), then sent again with the SAME Idempotency-Key.
      return await provisionWithRetry(deps, provider, { ...input, paymentToken: await payQuote(deps, attempt, spending, err) });
    }
  } catch (err) {
    // Definite: the key is unbound and nothing was bought (the entry fails). Anything else: it stays `sent` for a re-run to replay.
    if (isAgentprovError(err) && (err.exitCode === EXIT.USAGE || err.exitCode === EXIT.MONEY_REFUSED || (spending.external && err.exitCode === EXIT.HUMAN_ACTION))) {
      await recordFailure(deps, attempt, spending, { error: err.code, decision: 'refused', details: { service: service.id, code: err.code } });
      throw err;
    }
    if (isAgentprovError(err)) throw withNextSteps(err, [req.resume]);
    throw err;
  }
}

async function provisionWithRetry(deps: Deps, provider: Provider, input: Parameters<Provider['provision']>[0]): Promise<Provision> {
  return withSameKey(deps, 'provision', () => provider.provision(input));
}

/** The provider must answer for the service and name that were asked for. */
function checkProvision(p: Provision, attempt: Attempt): void {
  const { service, name } = attempt.req;
  if (p.service !== service.id || p.name !== name) {
    throw new AgentprovError('INVALID_PROVIDER_RESPONSE', `${service.provider} answered with a provision of ${sanitizeLine(p.service)} "${sanitizeLine(p.name)}" for ${service.id} "${name}"`, {
      details: { provider: service.provider, id: p.id },
    });
  }
}
