// Bench rows that need a signed-in session: `whoami --json` on the cached
// session (scripts/bench-sandbox.mjs signs in).
import { signedInSandbox } from './bench-sandbox.mjs';

export async function bench({ measure, env, bin }) {
  const { stop } = await signedInSandbox({ env, bin });
  try {
    const signedIn = (stdout) => {
      if (!JSON.parse(stdout).data.subject) throw new Error('whoami named nobody');
    };
    return [{ name: 'agentprov whoami --json (cached session)', result: measure([bin, 'whoami', '--json'], env, signedIn), target: 1.5 }];
  } finally {
    stop();
  }
}
