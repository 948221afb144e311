export * from './adapters.ts';
export * from './provisioning.ts';
export * from './runtime.ts';
