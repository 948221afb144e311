export * from './logger.ts';
export { REDACTED, isSecretKey, redactValue, textRedactor } from './redaction.ts';
export * from './metrics.ts';
export * from './health.ts';
export * from './shutdown.ts';
export { startOpsServer } from './ops-server.ts';
