/**
 * Text from providers (names, descriptions, error messages) is untrusted:
 * before it reaches a terminal, strip everything that could move the cursor,
 * recolour, set a window title, smuggle a hyperlink or reorder text.
 */

// CSI (ESC [ ... final), OSC (ESC ] ... BEL | ESC \), DCS/SOS/PM/APC strings,
// single-character ESC sequences, and their 8-bit C1 forms.
const ESCAPE_SEQUENCES =
  // eslint-disable-next-line no-control-regex
  /\u001b\[[0-?]*[ -/]*[@-~]|\u009b[0-?]*[ -/]*[@-~]|[\u001b\u009d\u0090\u0098\u009e\u009f][\]P X^_]?[\s\S]*?(?:\u0007|\u001b\\|\u009c)|\u001b[@-Z\\-_]|\u001b./g;
// C0 controls except tab/newline, DEL, C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// Bidi overrides/isolates and other invisible formatting that can reorder text.
const BIDI_AND_INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;

/** Strip terminal control sequences and bidi controls; keep tabs and newlines. */
export function sanitizeText(input: string): string {
  return input.replace(ESCAPE_SEQUENCES, '').replace(CONTROL_CHARS, '').replace(BIDI_AND_INVISIBLE, '');
}

/** One line: sanitized, whitespace runs folded to a single space. */
export function sanitizeLine(input: string): string {
  return sanitizeText(input).replace(/\s+/g, ' ').trim();
}

/** Cut to `width` terminal columns (code points), marking the cut with an ellipsis. */
export function truncate(input: string, width: number): string {
  const chars = Array.from(input);
  if (chars.length <= width) return input;
  if (width <= 1) return chars.slice(0, Math.max(0, width)).join('');
  return chars.slice(0, width - 1).join('') + '…';
}
