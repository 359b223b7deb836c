/**
 * The keychain binding connects to D-Bus synchronously on the main thread,
 * so a session bus that accepts connections but never answers would freeze
 * the process beyond the reach of any timer. Before the first keychain call
 * on Linux, check (asynchronously, bounded) that the bus completes the first
 * step of its handshake (D-Bus spec, "Authentication protocol": the client
 * sends a NUL byte and AUTH; a live bus answers OK, REJECTED or ERROR).
 */
import { connect } from 'node:net';
import type { AgentprovError } from '../core/errors.js';
import { keychainTimeout } from './keychain-errors.js';

export function busSocketPath(address: string | undefined): string | undefined {
  if (!address) return undefined;
  for (const part of address.split(';')) {
    const m = /^unix:(.*)$/.exec(part);
    if (!m) continue;
    const kv = Object.fromEntries(m[1]!.split(',').map((p) => p.split('=') as [string, string]));
    if (kv.path) return decodeURIComponent(kv.path);
    if (kv.abstract) return `\0${decodeURIComponent(kv.abstract)}`;
  }
  return undefined;
}

export async function assertBusAnswers(env: NodeJS.ProcessEnv, backend: string, timeoutMs: number): Promise<void> {
  const path = busSocketPath(env.DBUS_SESSION_BUS_ADDRESS);
  if (!path) return; // no unix bus address: the binding reports the concrete reason itself
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ path });
    const done = (err?: AgentprovError): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => done(keychainTimeout(backend, timeoutMs, 'the D-Bus session bus is not responding')), timeoutMs);
    // Any error (absent socket, refused) is left for the binding to report in its own words.
    socket.once('error', () => done());
    socket.once('connect', () => {
      const uid = (process.getuid?.() ?? 0).toString();
      socket.write(`\0AUTH EXTERNAL ${Buffer.from(uid).toString('hex')}\r\n`);
    });
    socket.once('data', () => done());
  });
}
