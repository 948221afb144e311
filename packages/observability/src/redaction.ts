/**
 * Redaction of secrets before anything is logged, printed or answered: values under secret
 * keys (auth headers, passwords, tokens, API keys), credentials inside URLs, and known secret
 * values wherever they appear in text. After `@elastic/transport`'s `src/security.ts`
 * (`redactObject`), which does the same for its diagnostics.
 */

/** What replaces a redacted value. */
export const REDACTED = '[redacted]';

/** Keys whose values are secrets, whatever the value (header names included). */
const SECRET_KEY = /pass(word|wd)?$|secret|token|api[-_]?key|authorization|cookie|credential|^auth$|x-elastic-app-auth/i;

/**
 * The user-info part of a URL, `//user:password@`, up to the last `@` before the host (a
 * password may hold an unencoded `@`); also inside comma-separated lists of URLs.
 */
const URL_CREDENTIALS = /\/\/[^\s/?#]*@/g;

/** Shortest known secret value replaced inside text: shorter ones would mask ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Removes credentials from every URL in a text: `http://u:p@h` → `http://***@h`. */
export function redactUrl(text: string): string {
  return text.replace(URL_CREDENTIALS, '//***@');
}

/** A text redactor: URL credentials, then every known secret value (longest first). */
export function textRedactor(secrets: readonly string[] = []): (text: string) => string {
  const known = [...new Set(secrets)].filter((secret) => secret.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  return (text) => {
    let redacted = redactUrl(text);
    for (const secret of known) if (redacted.includes(secret)) redacted = redacted.replaceAll(secret, REDACTED);
    return redacted;
  };
}

/** True when values under this key are secrets. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * A deep, redacted copy of anything about to leave the process (a log line's fields, an
 * error with its cause chain and diagnostics, a health report). Errors become plain objects
 * (`type`, `message`, `stack`, `code`, `cause`, own fields); cycles become `"[circular]"`;
 * nesting deeper than `maxDepth` becomes `"[deep]"`.
 */
export function redactValue(value: unknown, redactText: (text: string) => string = textRedactor(), maxDepth = 12): unknown {
  const seen = new WeakSet<object>();
  const walk = (current: unknown, depth: number): unknown => {
    if (typeof current === 'string') return redactText(current);
    if (current instanceof URL) return redactText(current.href);
    if (typeof current !== 'object' || current === null) return current;
    if (Buffer.isBuffer(current) || ArrayBuffer.isView(current)) return `[${String(current.byteLength)} bytes]`;
    if (seen.has(current)) return '[circular]';
    if (depth >= maxDepth) return '[deep]';
    seen.add(current);
    if (Array.isArray(current)) return current.map((item: unknown) => walk(item, depth + 1));
    const source = current instanceof Error ? errorFields(current) : current;
    const copy: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(source)) copy[key] = isSecretKey(key) && child !== undefined && child !== null && child !== '' ? REDACTED : walk(child, depth + 1);
    return copy;
  };
  return walk(value, 0);
}

function errorFields(error: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = { type: error.constructor.name, message: error.message, stack: error.stack };
  for (const [key, child] of Object.entries(error)) fields[key] = child;
  if (error.cause !== undefined) fields['cause'] = error.cause;
  return fields;
}
