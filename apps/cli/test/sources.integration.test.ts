// `sluice sources` applies the rules the admin API applies (packages/config-store's
// source-rules): it cannot create a source `/track` could not use, nor allow an origin no
// browser sends; on the embedded config store under a temporary DATA_DIR.
import { afterEach, describe, expect, it } from '@jest/globals';
import { runSluice, tempDir } from '@sluice/testkit';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  cleanups = [];
});

describe('sluice sources', () => {
  it('refuses ids and origins /track could not use with VALIDATION_FAILED, and stores nothing of them', async () => {
    const { dir, cleanup } = await tempDir('sluice-sources-');
    cleanups.push(cleanup);
    const env = { DATA_DIR: dir, LOGGING_LEVEL: 'error' };
    const sluice = (...args: string[]) => runSluice(['sources', ...args], env);

    for (const args of [['add', 'bad id!'], ['add', ''], ['add', 'a/b'], ['add', 'x'.repeat(129)], ['add', 'shop', '--origin', '*.example.com'], ['add', 'shop', '--origin', 'javascript:alert(1)']]) {
      const result = await sluice(...args);
      expect({ args, ...result }).toMatchObject({ args, code: 1, output: expect.stringMatching(/VALIDATION_FAILED: \/(id|allowedOrigins\/0): /) as unknown });
    }
    const added = await sluice('add', 'shop', '--origin', 'https://shop.example', 'http://localhost:3000');
    expect(added.code).toBe(0);
    expect(JSON.parse(added.output)).toMatchObject({ id: 'shop', allowedOrigins: ['https://shop.example', 'http://localhost:3000'] });
    const badOrigins = await sluice('origins', 'shop', 'not an origin');
    expect(badOrigins).toMatchObject({ code: 1, output: expect.stringContaining('VALIDATION_FAILED: /allowedOrigins/0: "not an origin" is not an origin') as unknown });
    const listed = await sluice('list');
    expect(listed.output.trim().split('\n').map((line) => JSON.parse(line) as { id: string; allowedOrigins: string[] })).toEqual([expect.objectContaining({ id: 'shop', allowedOrigins: ['https://shop.example', 'http://localhost:3000'] })]);
  });
});
