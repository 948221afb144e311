import { LruProfileCache } from '../src/index.ts';
import { runProfileCacheConformance } from '../src/conformance.ts';

runProfileCacheConformance('embedded', async () => ({ cache: new LruProfileCache({ maxEntries: 1000 }), prefix: 'test:', cleanup: async () => undefined }));
