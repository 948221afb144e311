import { describe, expect, it } from '@jest/globals';
import { loadConfig, redactedConfig, secretValues } from '../src/index.ts';

describe('secrets in the configuration', () => {
  it('lists every secret setting and the credentials inside URL settings, as written and decoded', () => {
    const env = { ADMIN_TOKEN: 'admin-token-0123456789', REDIS_PASSWORD: 'redis-pass', ELASTIC_HOST: 'https://u:p%40ss1@h1,https://u:pass2@h2', REDIS_HOST: 'redis://:rpw@h:6379' };
    const secrets = secretValues(env);
    for (const expected of ['admin-token-0123456789', 'redis-pass', 'u:p%40ss1', 'p%40ss1', 'p@ss1', 'pass2', 'rpw']) expect(secrets).toContain(expected);
    expect(secrets).not.toContain('u');
  });

  it('redactedConfig shows set secrets as [redacted], unset ones not at all, and URLs without credentials', () => {
    const env = { ADMIN_TOKEN: 'admin-token-0123456789', ELASTIC_HOST: 'https://u:pw-1@h1:9200', REDIS_HOST: 'redis://:pw-2@h:6379' };
    const shown = JSON.stringify(redactedConfig(loadConfig(env), env));
    expect(shown).toContain('"adminToken":"[redacted]"');
    expect(shown).not.toContain('"apiKey"');
    expect(shown).toContain('"https://***@h1:9200"');
    expect(shown).toContain('"redis://***@h:6379"');
    for (const secret of ['admin-token-0123456789', 'pw-1', 'pw-2']) expect(shown).not.toContain(secret);
  });

  it('never echoes credentials of an invalid URL setting, and lists it as a problem', () => {
    expect(() => loadConfig({ REDIS_HOST: 'redis://:hidden-pw@h:notaport' })).toThrow(/REDIS_HOST/);
    expect(() => loadConfig({ REDIS_HOST: 'redis://:hidden-pw@h:notaport' })).not.toThrow(/hidden-pw/);
  });
});

describe('HTTP timeouts', () => {
  it('default to 10 s headers, 30 s request, 72 s keep-alive; headers may not exceed the request timeout', () => {
    expect(loadConfig({}).http).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000 });
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT: '40000', HTTP_REQUEST_TIMEOUT: '30000' })).toThrow(/HTTP_HEADERS_TIMEOUT: must be at most HTTP_REQUEST_TIMEOUT/);
  });
});
