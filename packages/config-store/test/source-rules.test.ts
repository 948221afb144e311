import { describe, expect, it } from '@jest/globals';
import { isSluiceError } from '@sluice/core';
import { assertValidSource, originProblem, sourceIdProblem, sourceProblems } from '../src/index.ts';

describe('source ids', () => {
  it.each(['demo', 'shop-1', 'a', 'A.b_c:d@e-f', `a${'b'.repeat(127)}`])('accepts %j, as /track does', (id) => {
    expect(sourceIdProblem(id)).toBeUndefined();
  });

  it.each([
    ['bad id!', /letters, digits/],
    ['', /empty/],
    ['a/b', /letters, digits/],
    ['-lead', /starts with a letter or digit/],
    ['x'.repeat(129), /at most 128 characters \(this one has 129\)/],
    ['café', /letters, digits/],
  ])('refuses %j', (id, problem) => {
    expect(sourceIdProblem(id)).toMatch(problem);
  });
});

describe('allowed origins', () => {
  it.each(['*', 'https://shop.example', 'http://localhost:3000', 'https://shop.example:8443', 'http://127.0.0.1:8080', 'https://xn--bcher-kva.example'])('accepts %j', (origin) => {
    expect(originProblem(origin)).toBeUndefined();
  });

  it.each([
    ['*.example.com', /not an origin/],
    ['https://*.example.com', /wildcards/],
    ['javascript:alert(1)', /not an http or https origin/],
    ['ftp://files.example', /not an http or https origin/],
    ['not an origin', /not an origin/],
    ['shop.example', /not an origin/],
    ['', /not an origin/],
    ['https://shop.example/', /did you mean https:\/\/shop\.example\?/],
    ['https://shop.example/path', /did you mean https:\/\/shop\.example\?/],
    ['https://Shop.Example', /did you mean https:\/\/shop\.example\?/],
    ['https://shop.example:443', /did you mean https:\/\/shop\.example\?/],
    ['https://user:pw@shop.example', /did you mean https:\/\/shop\.example\?/],
    ['https://bücher.example', /did you mean https:\/\/xn--bcher-kva\.example\?/],
  ])('refuses %j (a browser never sends it, so /track would never match it)', (origin, problem) => {
    expect(originProblem(origin)).toMatch(problem);
  });
});

describe('a whole source', () => {
  it('lists every problem with its JSON path', () => {
    expect(sourceProblems({ id: 'bad id!', name: '', allowedOrigins: ['*', 'javascript:alert(1)'] }).map((problem) => problem.path)).toEqual(['/id', '/name', '/allowedOrigins/1']);
    expect(sourceProblems({ allowedOrigins: Array.from({ length: 101 }, () => '*') }).map((problem) => problem.path)).toEqual(['/allowedOrigins']);
    expect(sourceProblems({ id: 'shop', name: 'Shop', allowedOrigins: ['https://shop.example'] })).toEqual([]);
  });

  it('throws VALIDATION_FAILED naming each problem', () => {
    let thrown: unknown;
    try {
      assertValidSource({ id: 'a/b', allowedOrigins: ['*.example.com'] });
    } catch (error) {
      thrown = error;
    }
    expect(isSluiceError(thrown) && { code: thrown.code, statusCode: thrown.statusCode, message: thrown.message, paths: thrown.details.map((detail) => detail.path) }).toEqual({
      code: 'VALIDATION_FAILED',
      statusCode: 400,
      message: expect.stringMatching(/^\/id: .*; \/allowedOrigins\/0: "\*\.example\.com" is not an origin/) as unknown,
      paths: ['/id', '/allowedOrigins/0'],
    });
  });
});
