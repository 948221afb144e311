// The part of gjson's path syntax (what k6's response.json(path) takes) that scripts use:
// dotted keys, array indices, and `#` for an array's length. Anything else fails by name.
import { unsupported } from '../state.ts';

/** The value at `path` in `value`, or undefined where it does not exist (as k6 answers). */
export function gjson(value: unknown, path: string): unknown {
  if (/[*?|@\\!=<>%]/.test(path)) unsupported(`response.json() path syntax in "${path}" (only a.b, a.0 and a.# are implemented)`);
  let current: unknown = value;
  for (const part of path.split('.')) {
    if (Array.isArray(current)) {
      if (part === '#') current = current.length;
      else if (/^[0-9]+$/.test(part)) current = current[Number(part)];
      else return undefined;
    } else if (current !== null && typeof current === 'object' && part !== '#') {
      current = (current as Record<string, unknown>)[part];
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  return current;
}
