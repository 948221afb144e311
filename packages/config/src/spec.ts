import { z } from 'zod';

/**
 * One environment variable: how it parses, its default, its unit and what it means.
 * docs/configuration.md is generated from these specs (`npm run docs:config`).
 */
export interface EnvSpec<T> {
  readonly name: string;
  readonly group: string;
  readonly schema: z.ZodType<T>;
  /** The default as an operator would write it in the environment; undefined = no default. */
  readonly default: string | undefined;
  readonly unit: string;
  readonly description: string;
  /** Secrets are never logged or echoed in error messages. */
  readonly secret?: boolean;
}

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const int = (min: number, max: number = Number.MAX_SAFE_INTEGER) => integer(min, max);

export const bool = () =>
  z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((value) => value === 'true' || value === '1' || value === 'yes');

export const str = (min = 1, max = 4096) => z.string().min(min).max(max);

export const name = () =>
  z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, "-" and "_" (at most 63), starting with a letter or digit');

/** An absolute URL with one of the given schemes (trailing slash removed). */
export const url = (schemes: readonly string[]) =>
  z
    .string()
    .url()
    // URL.parse, not `new URL`: a value zod takes for a URL that WHATWG does not (a bad port) is a problem, not a throw.
    .refine((value) => schemes.includes(URL.parse(value)?.protocol.replace(/:$/, '') ?? ''), `a URL starting with ${schemes.map((scheme) => `${scheme}://`).join(' or ')}`)
    .transform((value) => value.replace(/\/+$/, ''));

/**
 * A comma-separated list of absolute URLs (spaces around the commas allowed), each with one
 * of the given schemes and a valid port; parsed to the URLs, trailing slashes removed. Each
 * bad item is named by its position (its text may hold credentials; the error quotes the
 * whole value with them redacted).
 */
export const urls = (schemes: readonly string[]) => {
  const one = url(schemes);
  return z.string().transform((value, context) => {
    const parsed: string[] = [];
    value.split(',').forEach((item, index) => {
      const result = one.safeParse(item.trim());
      if (result.success) parsed.push(result.data);
      else context.addIssue({ code: 'custom', message: `URL ${String(index + 1)}: ${item.trim() === '' ? 'empty' : (result.error.issues[0]?.message ?? 'not a URL')}` });
    });
    return parsed;
  });
};
/** Comma-separated `host:port` addresses (Redis sentinels); parsed to a list. */
export const sentinels = () =>
  z
    .string()
    .regex(/^[^\s,:]+:\d{1,5}(\s*,\s*[^\s,:]+:\d{1,5})*$/, 'comma-separated host:port, such as sentinel-1:26379,sentinel-2:26379')
    .transform((value) => value.split(',').map((entry) => {
      const [host = '', port = ''] = entry.trim().split(':');
      return { host, port: Number(port) };
    }))
    .refine((list) => list.every(({ port }) => port >= 1 && port <= 65535), 'ports between 1 and 65535');

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A duration: digits with `ms`, `s`, `m`, `h` or `d` (bare digits are in `bareUnit`); parsed to milliseconds. */
export const duration = (bareUnit: keyof typeof DURATION_UNITS) =>
  z
    .string()
    .regex(/^\d+(ms|s|m|h|d)?$/, `a duration such as 90${bareUnit === 'd' ? '' : bareUnit}, 30s, 12h or 7d`)
    .transform((value) => {
      const [, digits = '0', unit = bareUnit] = /^(\d+)(ms|s|m|h|d)?$/.exec(value) ?? [];
      return Number(digits) * DURATION_UNITS[unit as keyof typeof DURATION_UNITS];
    });

const SIZE_UNITS = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 } as const;

/** A size as Elasticsearch writes it (`50gb`, `512mb`, `100b`); parsed to bytes. */
export const size = () =>
  z
    .string()
    .regex(/^\d+(b|kb|mb|gb|tb)$/i, 'a size such as 512mb or 30gb')
    .transform((value) => {
      const [, digits = '0', unit = 'b'] = /^(\d+)([a-z]+)$/i.exec(value) ?? [];
      return Number(digits) * SIZE_UNITS[unit.toLowerCase() as keyof typeof SIZE_UNITS];
    });

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);

export function env<T>(spec: EnvSpec<T>): EnvSpec<T> {
  return spec;
}
