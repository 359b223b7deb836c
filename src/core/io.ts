/**
 * Where output goes, as the domain sees it: stdout carries data, stderr
 * carries talk (gh's IOStreams). Every write passes through the redactor, so
 * a secret that slipped into a message is masked before it leaves the
 * process. The process-backed implementation is the CLI's (src/cli/io.ts);
 * tests and other front ends (an MCP server) bring their own.
 */
import type { Readable, Writable } from 'node:stream';

export interface IO {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable;
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  stdinIsTTY: boolean;
  /** Terminal width for tables; 80 when unknown. */
  columns: number;
  /** False when NO_COLOR is set or stderr/stdout is not a terminal. */
  color: boolean;
  redactor: Redactor;
  out(text: string): void;
  err(text: string): void;
}

export const MASK = '****';

/** Remembers secrets seen by this process and masks them in any text. */
const SECRET_FIELD = /(^|_)(token|secret|password|passphrase|device_code|key|assertion|credential)s?$/i;

export class Redactor {
  #secrets = new Set<string>();

  /** Secrets shorter than 8 characters are not tracked: masking them would garble ordinary text. */
  add(secret: string | undefined | null): void {
    if (secret && secret.length >= 8) this.#secrets.add(secret);
  }

  /**
   * Every string of `value` (parsed JSON) under a secret-named field (…token,
   * secret, password, passphrase, device_code, key, assertion, credential),
   * at any depth; with `secret`, every string of it. Identifiers beside them
   * (account_id, client_id, issuer, provider) stay printable.
   */
  addSecretFields(value: unknown, secret = false): void {
    if (typeof value === 'string') {
      if (secret) this.add(value);
    } else if (Array.isArray(value)) {
      for (const v of value) this.addSecretFields(v, secret);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) this.addSecretFields(v, secret || SECRET_FIELD.test(k));
    }
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.#secrets) if (out.includes(s)) out = out.split(s).join(MASK);
    return out;
  }
}
