export * from './errors.ts';
export * from './results.ts';
export * from './ids.ts';
export * from './event.ts';
export * from './schemas.ts';
export * from './normalise.ts';
export * from './message.ts';
export * from './backoff.ts';
