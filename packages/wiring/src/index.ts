export * from './adapters.ts';
export * from './runtime.ts';
