export * from './port.ts';
export { EmbeddedBus, type EmbeddedBusOptions } from './embedded/embedded-bus.ts';
