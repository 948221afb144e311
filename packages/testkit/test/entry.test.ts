import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';

describe('@sluice/testkit', () => {
  // Benchmarks and `npm run load:capacity` load it outside Jest: nothing it exports may need Jest.
  it('loads in a plain Node process', () => {
    const loaded = spawnSync(process.execPath, ['--input-type=module', '-e', "await import('@sluice/testkit'); await import('@sluice/config-store/mysql-testing');"], { encoding: 'utf8' });
    expect(loaded.stderr).toBe('');
    expect(loaded.status).toBe(0);
  });
});
