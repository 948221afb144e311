import { describe, expect, it } from '@jest/globals';
import { DEAD_LETTERS_SUBSCRIPTION } from '@sluice/wiring';
import { DEAD_LETTER_SUBSCRIPTION } from '../src/dlq-replay.ts';

describe('the dead letters\' subscription', () => {
  it('is the one `sluice init` creates (wiring cannot import the app that reads it)', () => {
    expect(DEAD_LETTERS_SUBSCRIPTION).toBe(DEAD_LETTER_SUBSCRIPTION);
  });
});
