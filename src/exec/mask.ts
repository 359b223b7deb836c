/**
 * Masks secrets in a child's output stream, also when one arrives split
 * across chunks: after replacing every whole occurrence it holds back the
 * longest tail that could still begin a secret (at most the longest
 * secret's length - 1 characters) until the next chunk or the end.
 * Works on decoded text (a StringDecoder per stream keeps multi-byte
 * characters whole), so it can hand text to the redacting IO.
 */
import { StringDecoder } from 'node:string_decoder';
import { MASK } from '../cli/io.js';

export class StreamMasker {
  readonly #secrets: string[];
  readonly #decoder = new StringDecoder('utf8');
  #held = '';

  constructor(secrets: Iterable<string>) {
    // Longest first: a secret that contains another is masked whole.
    this.#secrets = [...new Set([...secrets].filter((s) => s.length > 0))].sort((a, b) => b.length - a.length);
  }

  /** Text safe to print now. */
  write(chunk: Buffer | string): string {
    return this.#process(this.#held + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk)), false);
  }

  /** The rest, at the end of the stream. */
  end(): string {
    return this.#process(this.#held + this.#decoder.end(), true);
  }

  #process(text: string, final: boolean): string {
    let out = '';
    let rest = text;
    for (;;) {
      let at = -1;
      let len = 0;
      for (const s of this.#secrets) {
        const i = rest.indexOf(s);
        if (i >= 0 && (at < 0 || i < at)) {
          at = i;
          len = s.length;
        }
      }
      if (at < 0) break;
      out += rest.slice(0, at) + MASK;
      rest = rest.slice(at + len);
    }
    const hold = final ? 0 : this.#partialTail(rest);
    this.#held = rest.slice(rest.length - hold);
    return out + rest.slice(0, rest.length - hold);
  }

  /** Length of the longest suffix of `text` that is a proper prefix of a secret. */
  #partialTail(text: string): number {
    const longest = this.#secrets[0]?.length ?? 0;
    for (let k = Math.min(longest - 1, text.length); k > 0; k--) {
      const tail = text.slice(text.length - k);
      if (this.#secrets.some((s) => s.length > k && s.startsWith(tail))) return k;
    }
    return 0;
  }
}
