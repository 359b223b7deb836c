/**
 * Masks injected secrets in a child's output stream.
 *
 * What is masked (each maximal run of masked characters becomes one MASK):
 * - a secret shorter than MIN_RUN characters: its whole occurrences only;
 * - a secret of MIN_RUN characters or more: every run of at least MIN_RUN
 *   consecutive characters of it (the whole secret, its halves on separate
 *   lines, any fragment of 12+ characters), and the same for these forms of
 *   its UTF-8 bytes (`secretForms`):
 *   - hex, lower- and upper-case: the hex of any fragment of 6+ bytes is a
 *     run of the secret's hex, so it is masked whole;
 *   - base64 and base64url, padded or not, of the secret and of the secret
 *     without its first one or two bytes (base64 of a fragment depends on
 *     where it starts modulo 3). The base64 of a fragment of 9+ bytes is
 *     thus masked, except, when the fragment stops short of the secret's end
 *     at a length that is not a multiple of 3, its last character before the
 *     padding (2 or 4 bits of the secret) and the padding.
 *   Any other run of 12+ characters of these forms (a base64 printed in
 *   halves) is masked too.
 * Nothing else is: fragments shorter than MIN_RUN, or a secret transformed
 * otherwise (reversed, encrypted, encoded twice, written to a file or sent
 * over the network) pass. Masking errs the other way too: text that merely
 * shares 12 characters with a secret (a JWT's common header) is masked.
 *
 * How: every MIN_RUN-character window of a form is kept in a Set; a window
 * of the output found there is masked, and the union of such windows is
 * exactly the union of the runs above. One Set lookup per character, so a
 * megabyte of output costs about a million lookups whatever the secrets.
 *
 * Text split across chunks: the last MIN_RUN - 1 characters already passed
 * on are kept as context (a window may start there), and the longest tail
 * that could still begin a match (the start of a window, or a proper prefix
 * of a short secret) is held back until the next chunk or the end. The
 * output therefore does not depend on where the chunks were cut.
 * Works on decoded text (a StringDecoder per stream keeps multi-byte
 * characters whole), so it can hand text to the redacting IO.
 */
import { StringDecoder } from 'node:string_decoder';
import { MASK } from '../core/io.js';

/** The shortest run of a secret, or of one of its encoded forms, masked on its own. */
export const MIN_RUN = 12;

/** The strings whose runs of MIN_RUN+ characters are masked for a secret of MIN_RUN+ characters. */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const hex = bytes.toString('hex');
  const forms = [secret, hex, hex.toUpperCase()];
  for (let skip = 0; skip < 3; skip++) {
    const base64 = bytes.subarray(skip).toString('base64'); // padded; unpadded is its prefix
    forms.push(base64, base64.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return forms.filter((f) => f.length >= MIN_RUN);
}

export class StreamMasker {
  /** Every MIN_RUN-character window of every form of the long secrets. */
  readonly #windows = new Set<string>();
  /** Every proper prefix of a window: a tail that could still become one. */
  readonly #windowStarts = new Set<string>();
  /** Secrets shorter than MIN_RUN, masked only whole. */
  readonly #short: string[];
  readonly #decoder = new StringDecoder('utf8');
  /** Up to MIN_RUN - 1 characters already passed on, right before #held. */
  #context = '';
  #held = '';
  /** Whether the last character passed on was masked (a run continuing into the next chunk is one MASK). */
  #open = false;

  constructor(secrets: Iterable<string>) {
    const unique = [...new Set(secrets)].filter((s) => s.length > 0);
    this.#short = unique.filter((s) => s.length < MIN_RUN);
    for (const s of unique) {
      if (s.length < MIN_RUN) continue;
      for (const form of secretForms(s)) {
        for (let i = 0; i + MIN_RUN <= form.length; i++) this.#windows.add(form.slice(i, i + MIN_RUN));
      }
    }
    for (const w of this.#windows) for (let k = 1; k < MIN_RUN; k++) this.#windowStarts.add(w.slice(0, k));
  }

  /** Text safe to print now. */
  write(chunk: Buffer | string): string {
    return this.#process(typeof chunk === 'string' ? chunk : this.#decoder.write(chunk), false);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    return this.#process(this.#decoder.end(), true);
  }

  #process(input: string, final: boolean): string {
    const text = this.#context + this.#held + input;
    const from = this.#context.length;
    const masked = this.#cover(text);
    const to = text.length - (final ? 0 : this.#holdBack(text, from));
    let out = '';
    let open = this.#open;
    for (let p = from; p < to; ) {
      if (masked[p]) {
        if (!open) out += MASK;
        open = true;
        const next = masked.indexOf(0, p);
        p = next < 0 || next > to ? to : next;
      } else {
        open = false;
        const next = masked.indexOf(1, p);
        const q = next < 0 || next > to ? to : next;
        out += text.slice(p, q);
        p = q;
      }
    }
    this.#open = open;
    this.#held = text.slice(to);
    this.#context = text.slice(Math.max(0, to - (MIN_RUN - 1)), to);
    return out;
  }

  /** 1 at every position of `text` that belongs to a masked run. */
  #cover(text: string): Uint8Array {
    const masked = new Uint8Array(text.length);
    if (this.#windows.size > 0) {
      for (let i = 0; i + MIN_RUN <= text.length; i++) {
        if (this.#windows.has(text.slice(i, i + MIN_RUN))) masked.fill(1, i, i + MIN_RUN);
      }
    }
    for (const s of this.#short) {
      for (let i = text.indexOf(s); i >= 0; i = text.indexOf(s, i + 1)) masked.fill(1, i, i + s.length);
    }
    return masked;
  }

  /** Length of the longest tail of `text` (after `from`) that could still begin a masked run. */
  #holdBack(text: string, from: number): number {
    for (let k = Math.min(MIN_RUN - 1, text.length - from); k > 0; k--) {
      const tail = text.slice(text.length - k);
      if (this.#windowStarts.has(tail) || this.#short.some((s) => s.length > k && s.startsWith(tail))) return k;
    }
    return 0;
  }
}
