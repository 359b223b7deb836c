import { describe, expect, it } from 'vitest';
import { sanitizeLine, sanitizeText, truncate } from '../../../src/util/sanitize.js';

describe('sanitizer for provider-supplied text', () => {
  it('strips CSI colour and cursor sequences, OSC titles and hyperlinks, C1 controls and bidi overrides', () => {
    const evil =
      '\u001b[31mred\u001b[0m \u001b]0;pwned title\u0007 \u001b]8;;http://evil\u001b\\link\u001b]8;;\u001b\\ \u009b2J x\u202eevil\u2066 \u0008bs';
    const out = sanitizeText(evil);
    expect(out).toBe('red  link  xevil bs');
    // eslint-disable-next-line no-control-regex
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  });

  it('folds lines and truncates to a width with an ellipsis', () => {
    expect(sanitizeLine('a\n\tb   c')).toBe('a b c');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
  });
});
