export { loadConfig, type Config, type Environment, type LogLevel } from './load.ts';
export { renderConfigurationDoc } from './docs.ts';
export { SPECS } from './specs.ts';
export { redactedConfig, secretValues } from './secrets.ts';
