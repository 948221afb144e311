import { pino, type Logger, type DestinationStream } from 'pino';
import { REDACTED, redactValue, textRedactor } from './redaction.ts';

export type { Logger };

/** Sluice's operator-facing levels (Tracardi's names) mapped onto pino's. */
const LEVELS = { debug: 'debug', info: 'info', warning: 'warn', error: 'error', critical: 'fatal' } as const;

export type OperatorLevel = keyof typeof LEVELS;

/**
 * Paths pino itself censors (fast, at serialisation): request headers as fastify logs them.
 * Everything else goes through `redactValue` (secret keys at any depth, URL credentials,
 * known secret values, errors with their causes).
 */
export const REDACTED_PATHS = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-elastic-app-auth"]', 'headers.authorization', 'headers.cookie'];

export interface LoggerOptions {
  readonly name?: string;
  readonly destination?: DestinationStream;
  /**
   * Secret values (the config's secrets, see `secretValues` in @sluice/config) masked
   * wherever they appear in a log line, even in free text such as an engine's error message.
   */
  readonly secrets?: readonly string[];
}

/**
 * A structured JSON logger on stdout (or a given stream). Secrets never reach it: every
 * line's fields and message are redacted (`redaction.ts`) before they are written. (The
 * bindings of a child logger are not: they name a component — a job, a request id — never data.)
 */
export function createLogger(level: OperatorLevel, options: LoggerOptions = {}): Logger {
  const redactText = textRedactor(options.secrets);
  return pino(
    {
      level: LEVELS[level],
      name: options.name ?? 'sluice',
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
      // `formatters.log` below has made errors plain, redacted objects already.
      serializers: { err: (value: unknown) => value },
      formatters: {
        level: (label) => ({ level: label }),
        // Fields of each line (errors included: they become plain, redacted objects).
        log: (fields) => redactValue(fields, redactText) as Record<string, unknown>,
      },
      hooks: {
        // The message and its interpolation arguments (an error alone: its message is the line's).
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          const given = first instanceof Error && typeof second !== 'string' ? [first, first.message, ...args.slice(1)] : args;
          method.apply(this, given.map((arg: unknown) => (typeof arg === 'string' ? redactText(arg) : arg)) as Parameters<typeof method>);
        },
      },
    },
    options.destination,
  );
}

export { redactUrl } from './redaction.ts';
