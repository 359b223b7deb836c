/**
 * Polling a `202 Accepted` provision (docs/protocol.md §4.1) until it leaves
 * `pending`, with exponential backoff (0.5 s doubling to 5 s) and a bound.
 * An ora spinner shows on stderr only when stderr is a terminal and --json
 * is off; agents see nothing until the one result document.
 */
import type { Deps } from '../core/deps.js';
import type { Provision } from '../wire/provider.js';
import type { Provider } from '../providers/provider.js';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;

export async function pollProvision(deps: Deps, provider: Provider, first: Provision, waitSeconds: number, label: string): Promise<Provision> {
  const deadline = Date.now() + waitSeconds * 1000;
  let current = first;
  let delay = FIRST_DELAY_MS;
  const spinner = deps.io.stderrIsTTY && !deps.globals.json ? (await import('ora')).default({ text: `waiting for ${label} (pending)`, stream: deps.io.stderr }).start() : undefined;
  try {
    while (current.status === 'pending') {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(delay, left)));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      current = await provider.get(current.id, current.name);
      deps.debug(`poll ${current.id}: ${current.status}`);
    }
    spinner?.[current.status === 'active' ? 'succeed' : 'stop'](`${label}: ${current.status}`);
    return current;
  } catch (err) {
    spinner?.fail(`${label}: polling failed`);
    throw err;
  }
}
