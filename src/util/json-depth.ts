/**
 * How deeply a parsed JSON value nests, found without recursion. JSON.parse
 * itself takes any depth, but nearly everything after it recurses (zod,
 * JSON.stringify, ajv, a deep copy): a provider document nested 10,000
 * levels deep ends in "Maximum call stack size exceeded" wherever it first
 * meets one of them. Every document from a provider is checked with this
 * right after it is parsed, before anything else looks at it.
 */

/** No provider document nests deeper than this (objects and arrays counted; the root is level 1). */
export const MAX_JSON_DEPTH = 32;

/** How many keys of the path to a too-deep value are named. */
const PATH_SHOWN = 4;

/**
 * The path (dotted keys, the first few, `…` when cut) to where `value`
 * nests deeper than `max` levels, `(root)` for a document that is deep as a
 * whole right away, or undefined when it does not. An explicit stack: any
 * depth, and a cyclic value (not one JSON.parse makes) is just too deep.
 */
export function tooDeepAt(value: unknown, max: number = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ v: unknown; depth: number; path: string[] }> = [{ v: value, depth: 0, path: [] }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return path.length === 0 ? '(root)' : path.join('.') + (depth > path.length ? '…' : '');
    const under = (key: string): string[] => (path.length < PATH_SHOWN ? [...path, key.slice(0, 40)] : path);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], depth: depth + 1, path: under(String(i)) });
    } else {
      for (const [k, child] of Object.entries(v)) stack.push({ v: child, depth: depth + 1, path: under(k) });
    }
  }
  return undefined;
}
