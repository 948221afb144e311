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
  z.string().url().refine((value) => schemes.includes(new URL(value).protocol.replace(/:$/, '')), `a URL starting with ${schemes.map((scheme) => `${scheme}://`).join(' or ')}`).transform((value) => value.replace(/\/+$/, ''));

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values);

export function env<T>(spec: EnvSpec<T>): EnvSpec<T> {
  return spec;
}
