import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Sluice's operator-facing levels (Tracardi's names) mapped onto pino's. */
const LEVELS = { debug: 'debug', info: 'info', warning: 'warn', error: 'error', critical: 'fatal' } as const;

export type OperatorLevel = keyof typeof LEVELS;

/** Paths whose values never reach a log. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.password',
  '*.token',
  '*.adminToken',
  '*.apiKey',
  'config.http.adminToken',
];

/** A structured JSON logger on stdout (or a given stream), secrets redacted. */
export function createLogger(level: OperatorLevel, options: { name?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: LEVELS[level],
      name: options.name ?? 'sluice',
      base: { pid: process.pid },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/** Removes credentials from a URL before it is logged: `http://u:p@h` → `http://***@h`. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/g, '//***@');
}
