/** The AgentprovError a promise rejects with; the test fails if it resolves or rejects with anything else. */
import { expect } from 'vitest';
import { AgentprovError } from '../../src/core/errors.js';

export async function rejection(p: Promise<unknown>): Promise<AgentprovError> {
  const outcome = await p.then(
    (value: unknown) => ({ resolved: true as const, value }),
    (err: unknown) => ({ resolved: false as const, err }),
  );
  if (outcome.resolved) throw new Error('expected a refusal (an AgentprovError), but it resolved');
  expect(outcome.err).toBeInstanceOf(AgentprovError);
  return outcome.err as AgentprovError;
}
