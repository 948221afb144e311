import { MAX_ID_LENGTH, SluiceError, idString, type ErrorDetail } from '@sluice/core';

/**
 * What a source may be, checked the same way by every writer of sources (the admin API and
 * `sluice sources`), so that no writer can make a source `/track` cannot use: its id is the
 * credential `/track` matches against `idString`, and `/track` compares a browser's `Origin`
 * header with the allowed origins as exact strings.
 */

/** JSON Schema of a source id: the id `/track` accepts as `source.id` (core's `idString`). */
export const sourceIdSchema = idString;
/** Longest display name, in characters. */
export const MAX_SOURCE_NAME_LENGTH = 256;
/** Most allowed origins one source holds. */
export const MAX_ALLOWED_ORIGINS = 100;
/** Highest per-source rate limit, in events per second. */
export const MAX_SOURCE_RATE_LIMIT = 1_000_000;
/** Any origin (no browser check). */
export const ANY_ORIGIN = '*';

const SOURCE_ID = new RegExp(idString.pattern);

/** Why `id` cannot be a source id, or undefined when it can. */
export function sourceIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'a source id cannot be empty';
  if (id.length > MAX_ID_LENGTH) return `a source id has at most ${String(MAX_ID_LENGTH)} characters (this one has ${String(id.length)})`;
  if (!SOURCE_ID.test(id)) return `a source id starts with a letter or digit and holds only letters, digits and . _ : @ - (${JSON.stringify(id)} does not)`;
  return undefined;
}

/**
 * Why `origin` cannot be an allowed origin, or undefined when it can: `*`, or an http(s)
 * origin written as a browser sends it in `Origin` (scheme and host in lower case, a port
 * only when it is not the scheme's default, no path, no trailing slash) — the comparison is
 * exact, so any other spelling would never match. Wildcards within a host are not supported.
 */
export function originProblem(origin: string): string | undefined {
  if (origin === ANY_ORIGIN) return undefined;
  const shown = JSON.stringify(origin.slice(0, 200));
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return `${shown} is not an origin: give scheme and host, e.g. https://shop.example, or * for any`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${shown} is not an http or https origin`;
  if (url.hostname.includes('*')) return `${shown}: wildcards within a host are not supported; list each origin, or give * for any`;
  if (url.origin !== origin) return `${shown} is not written as a browser sends it; did you mean ${url.origin}? (no path, user or trailing slash; lower case; no default port)`;
  return undefined;
}

/** The problems of a source's fields, each with its JSON path; fields not given are not checked. */
export function sourceProblems(source: { readonly id?: string; readonly name?: string; readonly allowedOrigins?: readonly string[]; readonly rateLimit?: number | null }): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const idProblem = source.id === undefined ? undefined : sourceIdProblem(source.id);
  if (idProblem !== undefined) problems.push({ path: '/id', message: idProblem });
  if (source.name !== undefined && (source.name.length === 0 || source.name.length > MAX_SOURCE_NAME_LENGTH)) problems.push({ path: '/name', message: `a name has 1 to ${String(MAX_SOURCE_NAME_LENGTH)} characters` });
  const { rateLimit } = source;
  if (rateLimit !== undefined && rateLimit !== null && !(Number.isSafeInteger(rateLimit) && rateLimit >= 1 && rateLimit <= MAX_SOURCE_RATE_LIMIT)) problems.push({ path: '/rateLimit', message: `events per second: a whole number from 1 to ${String(MAX_SOURCE_RATE_LIMIT)}, or null for the TRACK_RATE_LIMIT default` });
  const origins = source.allowedOrigins ?? [];
  if (origins.length > MAX_ALLOWED_ORIGINS) problems.push({ path: '/allowedOrigins', message: `at most ${String(MAX_ALLOWED_ORIGINS)} origins` });
  origins.forEach((origin, index) => {
    const message = originProblem(origin);
    if (message !== undefined) problems.push({ path: `/allowedOrigins/${String(index)}`, message });
  });
  return problems;
}

/** Throws VALIDATION_FAILED naming every problem of `source` (see sourceProblems). */
export function assertValidSource(source: Parameters<typeof sourceProblems>[0]): void {
  const problems = sourceProblems(source);
  if (problems.length === 0) return;
  throw new SluiceError('VALIDATION_FAILED', problems.map((problem) => `${problem.path}: ${problem.message}`).join('; '), { details: problems });
}
