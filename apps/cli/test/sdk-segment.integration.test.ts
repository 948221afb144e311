// The Segment-protocol SDKs against the embedded `sluice start` (embedded bus, SQLite store,
// in-process cache): the shared suite (sdk-segment-suite.ts), as the production run has it.
import { startSluice, tempDir } from '@sluice/testkit';
import { SDK_ADMIN_TOKEN, runSdkSuite } from './sdk-segment-suite.ts';

runSdkSuite('the embedded sluice start', async () => {
  const data = await tempDir('sluice-sdk-');
  const sluice = await startSluice('start', { DATA_DIR: data.dir, ADMIN_TOKEN: SDK_ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '100', DEMO_SOURCE: 'false' });
  return {
    url: sluice.url,
    stop: async () => {
      await sluice.stop();
      await data.cleanup();
    },
  };
});
