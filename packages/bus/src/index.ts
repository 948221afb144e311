export * from './port.ts';
export { EmbeddedBus, type EmbeddedBusOptions } from './embedded/embedded-bus.ts';
export { PulsarWsBus, type PulsarWsBusOptions } from './pulsar/pulsar-ws-bus.ts';
export { bootstrapPulsarNamespace, type PulsarNamespacePlan, type BootstrapReport } from './pulsar/admin.ts';
export { SpooledBus, type SpoolOptions } from './spool/spooled-bus.ts';
export { PulsarNativeBus, loadNativePulsar, type PulsarNativeBusOptions, type NativePulsarModule } from './pulsar/pulsar-native-bus.ts';
export { deadLetterOf } from './dead-letter.ts';
export { GroupingBus, type GroupingOptions } from './grouping/grouping-bus.ts';
