/**
 * StreamMasker (the masking of `run`'s piped child output), unit level: what
 * it masks, what it leaves, and that where the stream is cut never matters.
 */
import { describe, expect, it } from 'vitest';
import { MASK } from '../../../src/core/io.js';
import { MIN_RUN, StreamMasker } from '../../../src/exec/mask.js';

// Made-up secrets in the shapes of real ones: opaque base64url, and one with a non-ASCII character.
const SECRET = 'tok_9fQ2xL7vKp3Rz8mWc1Ny6TbH4sJd0gEa';
const OTHER = 'sk-ümlaut-Π-0123456789abcdef';

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const b64url = (s: string | Buffer) => Buffer.from(s).toString('base64url');
const hex = (s: string | Buffer) => Buffer.from(s).toString('hex');

/** All of `text` through one masker, cut into the given pieces. */
function mask(secrets: string[], ...pieces: Array<string | Buffer>): string {
  const m = new StreamMasker(secrets);
  return pieces.map((p) => m.write(p)).join('') + m.end();
}

describe('StreamMasker', () => {
  it('masks the halves of a secret printed on separate lines', () => {
    const h = SECRET.length / 2;
    expect(h).toBeGreaterThanOrEqual(MIN_RUN);
    const out = mask([SECRET], `first: ${SECRET.slice(0, h)}\n`, `second: ${SECRET.slice(h)}\n`);
    expect(out).toBe(`first: ${MASK}\nsecond: ${MASK}\n`);
  });

  it('masks every fragment of 12 or more characters, wherever it sits in a line', () => {
    let count = 0;
    for (let i = 0; i < SECRET.length; i++) {
      for (let j = i + MIN_RUN; j <= SECRET.length; j++) {
        expect(mask([SECRET], `<${SECRET.slice(i, j)}>`), `${i}..${j}`).toBe(`<${MASK}>`);
        count++;
      }
    }
    expect(count).toBe(((SECRET.length - MIN_RUN + 1) * (SECRET.length - MIN_RUN + 2)) / 2);
    // The same for a secret with multi-byte characters, fed as bytes.
    expect(mask([OTHER], Buffer.from(`a ${OTHER.slice(3, 17)} b ${OTHER} c`))).toBe(`a ${MASK} b ${MASK} c`);
  });

  it('masks the base64 (padded or not), base64url and hex (lower and upper) forms, whole and in halves', () => {
    for (const secret of [SECRET, OTHER]) {
      const forms = [b64(secret), b64(secret).replace(/=+$/, ''), b64url(secret), `${b64url(secret)}==`.slice(0, b64(secret).length), hex(secret), hex(secret).toUpperCase()];
      for (const form of forms) {
        expect(mask([secret], `x ${form} y`), form).toBe(`x ${MASK} y`);
        const h = Math.floor(form.length / 2);
        expect(mask([secret], `${form.slice(0, h)}\n${form.slice(h)}\n`), form).toBe(`${MASK}\n${MASK}\n`);
      }
    }
  });

  it('masks the encodings of a fragment: hex whole, base64 whole at any offset, up to the documented last character', () => {
    for (let i = 0; i + 12 <= SECRET.length; i++) {
      const fragment = SECRET.slice(i, i + 12); // a multiple of 3 bytes: its base64 has no partial group
      expect(mask([SECRET], ` ${b64(fragment)} ${b64url(fragment)} ${hex(fragment).toUpperCase()} `), `offset ${i}`).toBe(` ${MASK} ${MASK} ${MASK} `);
    }
    // 10 bytes that stop short of the end: the last group holds 1 byte; its second character also carries
    // the next byte's bits, so that character (2 bits of the secret) and the padding stay.
    const tail = b64(SECRET.slice(5, 15));
    expect(mask([SECRET], tail)).toBe(`${MASK}${tail.slice(-3)}`);
    expect(tail.slice(-2)).toBe('==');
    // At the end of the secret nothing stays: the secret's own forms end there, padding included.
    expect(mask([SECRET], `${b64(SECRET.slice(5))}.`)).toBe(`${MASK}.`);
  });

  it('gives the same output wherever the stream is cut (two and three pieces, bytes or text)', () => {
    const h = SECRET.length / 2;
    const text = `a ${SECRET} b ${SECRET.slice(0, h)}\n${SECRET.slice(h)} c ${b64(SECRET)} d ${hex(SECRET)}${SECRET} e ${OTHER} tok_9fQ2x f short! g\n`;
    const want = `a ${MASK} b ${MASK}\n${MASK} c ${MASK} d ${MASK} e ${MASK} tok_9fQ2x f ${MASK} g\n`;
    const secrets = [SECRET, OTHER, 'short!'];
    expect(mask(secrets, text)).toBe(want);
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      expect(mask(secrets, bytes.subarray(0, i), bytes.subarray(i)), `bytes cut at ${i}`).toBe(want);
      const j = Math.min(bytes.length, i + 5);
      expect(mask(secrets, bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)), `bytes cut at ${i}/${j}`).toBe(want);
    }
    for (let i = 0; i <= text.length; i++) {
      expect(mask(secrets, text.slice(0, i), text.slice(i)), `text cut at ${i}`).toBe(want);
    }
    expect(mask(secrets, ...text)).toBe(want); // one character per write
  });

  it('holds back only a tail that could still begin a masked run, and passes it on when it does not', () => {
    const m = new StreamMasker([SECRET, 'short!']);
    expect(m.write('hello tok_9f')).toBe('hello ');
    expect(m.write('Z\n')).toBe('tok_9fZ\n');
    expect(m.write(`mid ${SECRET.slice(10, 16)}`)).toBe('mid '); // 6 characters from the middle could still grow to 12
    expect(m.write('.')).toBe(`${SECRET.slice(10, 16)}.`);
    expect(m.write('sho')).toBe('');
    expect(m.write('rt')).toBe('');
    expect(m.write('?')).toBe('short?');
    expect(m.write('plain text ')).toBe('plain text ');
    expect(m.end()).toBe('');
  });

  it('leaves unrelated text alone, including other base64 and hex and pieces of up to 11 characters', () => {
    const unrelated = [
      'GET /v1/accounts/acct_123 200 12ms',
      b64('some other payload that is not a secret'),
      hex('another payload, hex encoded'),
      SECRET.slice(0, 11) + ' ' + SECRET.slice(11, 22) + ' ' + SECRET.slice(-11), // three 11-character pieces
      SECRET.split('').reverse().join(''),
      SECRET.toUpperCase(),
      '****',
    ].join('\n');
    expect(mask([SECRET, OTHER], unrelated)).toBe(unrelated);
    expect(mask([SECRET, OTHER], ...unrelated)).toBe(unrelated);
  });

  it('masks an 11-character fragment of a secret nowhere (the limit), and a secret shorter than 12 only whole', () => {
    const eleven = SECRET.slice(7, 7 + MIN_RUN - 1);
    expect(mask([SECRET], `[${eleven}]`)).toBe(`[${eleven}]`);
    expect(mask([SECRET], `[${SECRET.slice(7, 7 + MIN_RUN)}]`)).toBe(`[${MASK}]`);
    const short = 'pw_8Kx2Lq9Z'; // 11 characters
    expect(short.length).toBe(MIN_RUN - 1);
    expect(mask([short], `${short} ${short.slice(0, 10)} ${b64(short)} ${hex(short)}`)).toBe(`${MASK} ${short.slice(0, 10)} ${b64(short)} ${hex(short)}`);
  });

  it('masks back-to-back secrets as one run, and the same run cut anywhere', () => {
    const text = `${SECRET}${SECRET}${b64(SECRET)}|${SECRET}`;
    for (let i = 0; i <= text.length; i++) expect(mask([SECRET], text.slice(0, i), text.slice(i)), `cut at ${i}`).toBe(`${MASK}|${MASK}`);
  });

  it('masks a megabyte of output with secrets scattered through it, in 64 KiB chunks', () => {
    const line = 'the quick brown fox jumps over the lazy dog 0123456789 ABCDEF lorem ipsum\n';
    const forms = [SECRET, b64(SECRET), b64url(SECRET), hex(SECRET), hex(SECRET).toUpperCase(), SECRET.slice(3, 20)];
    const parts: string[] = [];
    const want: string[] = [];
    for (let n = 0, size = 0; size < 1_000_000; n++) {
      const form = forms[n % forms.length]!;
      parts.push(line.repeat(97), form, '\n');
      size += line.length * 97 + form.length + 1;
      want.push(line.repeat(97), MASK, '\n');
    }
    const input = parts.join('');
    expect(input.length).toBeGreaterThan(1_000_000);
    const m = new StreamMasker([SECRET, OTHER]);
    const out: string[] = [];
    for (let i = 0; i < input.length; i += 65_536) out.push(m.write(Buffer.from(input.slice(i, i + 65_536))));
    out.push(m.end());
    expect(out.join('')).toBe(want.join(''));
  });
});
