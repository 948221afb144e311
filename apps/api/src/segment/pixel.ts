import type { JsonObject } from '@sluice/core';

/** A transparent 1×1 GIF (43 bytes), the answer of a tracking pixel. */
export const PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

/** Deepest dotted key a pixel's query may use (`properties.a.b.c` is 4). */
const MAX_PATH_DEPTH = 8;

/**
 * The Segment message of a tracking pixel's query string, as RudderStack reads one: every
 * parameter but `writeKey` is a field, dotted names nest (`properties.plan=pro` →
 * `{ properties: { plan: 'pro' } }`, `context.page.url=…`). Values stay strings (a query has
 * no types); a parameter given twice keeps its first value; a name that would set a field
 * inside a string (`event=a&event.x=b`), or that holds `__proto__`, `constructor` or
 * `prototype`, is ignored.
 */
export function pixelMessage(query: Readonly<Record<string, unknown>>): JsonObject {
  const message: JsonObject = {};
  for (const [name, raw] of Object.entries(query)) {
    if (name === 'writeKey') continue;
    const value: unknown = Array.isArray(raw) ? (raw as unknown[])[0] : raw;
    if (typeof value !== 'string') continue;
    const path = name.split('.');
    if (path.length > MAX_PATH_DEPTH || path.some((part) => part === '' || part === '__proto__' || part === 'constructor' || part === 'prototype')) continue;
    setPath(message, path, value);
  }
  return message;
}

function setPath(target: JsonObject, path: readonly string[], value: string): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    if (next === undefined) node = node[part] = {} as JsonObject;
    else if (typeof next === 'object' && next !== null) node = next as JsonObject;
    else return;
  }
  const last = path[path.length - 1] as string;
  if (node[last] === undefined) node[last] = value;
}
