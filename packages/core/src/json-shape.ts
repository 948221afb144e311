/** How deeply a JSON text nests and how many object members it holds. */
export interface JsonShape {
  /** Deepest nesting of objects and arrays (`{}` is 1, `{"a":[1]}` is 2). */
  readonly depth: number;
  /** Object members (key–value pairs) in the whole text. */
  readonly members: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

/**
 * Measures a JSON text in one pass over its characters, without parsing it and without
 * recursion, so a body nested 100 000 deep costs a loop, not a stack. Meant to run before
 * anything recursive (validators, serialisers) sees the value. Strings — most of a body's
 * bytes — are skipped with `indexOf` (a native scan) to their closing quote. For text that
 * is not JSON the figures are meaningless but finite.
 */
export function measureJson(text: string): JsonShape {
  let depth = 0;
  let deepest = 0;
  let members = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const end = closingQuote(text, i);
      if (end === -1) break;
      i = end;
    } else if (code === OPEN_BRACE || code === OPEN_BRACKET) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) depth -= 1;
    else if (code === COLON) members += 1;
  }
  return { depth: deepest, members };
}

/** Index of the quote that closes the string opening at `open`: the next one not escaped by an odd run of backslashes (-1: none). */
function closingQuote(text: string, open: number): number {
  for (let end = text.indexOf('"', open + 1); end !== -1; end = text.indexOf('"', end + 1)) {
    let backslashes = 0;
    for (let j = end - 1; text.charCodeAt(j) === BACKSLASH; j -= 1) backslashes += 1;
    if (backslashes % 2 === 0) return end;
  }
  return -1;
}
