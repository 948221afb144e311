import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, redactUrl, redactValue, textRedactor } from '../src/index.ts';

/** A logger writing into an array of lines. */
function capture(secrets: readonly string[] = []) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger('debug', { destination, secrets }), text: () => lines.join('') };
}

describe('redaction', () => {
  it('removes credentials from URLs, lists of URLs and passwords holding an @', () => {
    expect(redactUrl('redis://:pw@h:6379/0')).toBe('redis://***@h:6379/0');
    expect(redactUrl('https://u:pw@h1:9200,https://u:pw@h2:9200')).toBe('https://***@h1:9200,https://***@h2:9200');
    expect(redactUrl('see https://u:p@ss@h/x?y=z@w')).toBe('see https://***@h/x?y=z@w');
    expect(redactUrl('mail me at a@b.example, or http://host/path')).toBe('mail me at a@b.example, or http://host/path');
  });

  it('masks secret keys at any depth, known secret values in text, URL objects, errors and their causes', () => {
    const cause = Object.assign(new Error('401 for token s3cr3t-token-value'), { meta: { headers: { Authorization: 'ApiKey abc' }, connection: { url: new URL('https://elastic:pw-in-url@h/') } } });
    const error = Object.assign(new Error('store failed', { cause }), { code: 'X' });
    const copy = JSON.stringify(redactValue({ err: error, config: { apiKey: 'k', password: 'p', nested: [{ adminToken: 't' }] }, plain: 'keep me' }, textRedactor(['s3cr3t-token-value'])));
    for (const secret of ['s3cr3t-token-value', 'ApiKey abc', 'pw-in-url', '"k"', '"p"', '"t"']) expect(copy).not.toContain(secret);
    expect(copy).toContain('keep me');
    expect(copy).toContain('store failed');
    expect(copy).toContain('"code":"X"');
  });

  it('the logger writes no secret: fields, messages, interpolations, an error logged alone', () => {
    const { logger, text } = capture(['known-secret-value']);
    logger.error({ err: new Error('cannot reach https://u:url-password@h') }, 'failed with %s', 'known-secret-value');
    logger.warn(new Error('alone https://u:alone-password@h'));
    logger.info({ req: { headers: { authorization: 'Bearer header-token', cookie: 'session=cookie-value' } }, elastic: { password: 'field-password' } }, 'fields');
    const written = text();
    for (const secret of ['url-password', 'known-secret-value', 'alone-password', 'header-token', 'cookie-value', 'field-password']) expect(written).not.toContain(secret);
    expect(written).toContain('cannot reach https://***@h');
  });
});
