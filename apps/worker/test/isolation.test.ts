import { describe, expect, it } from '@jest/globals';
import { stepAfterFailure, type FailureFacts } from '../src/isolation.ts';

const facts = (overrides: Partial<FailureFacts>): FailureFacts => ({ messages: 4, retryable: true, probe: false, othersWritten: false, storeHealthy: true, failingForMs: 0, suspectAfterMs: 60_000, ...overrides });

describe('what the worker does after a failed write', () => {
  it('points a permanent failure at the group: split it, or nack its only message', () => {
    expect(stepAfterFailure(facts({ retryable: false }))).toBe('split');
    expect(stepAfterFailure(facts({ retryable: false, messages: 1, storeHealthy: false }))).toBe('nack');
  });

  it('waits out an outage: nothing is split or nacked while the store is unhealthy and nothing else is written', () => {
    expect(stepAfterFailure(facts({ storeHealthy: false, probe: true }))).toBe('defer');
    expect(stepAfterFailure(facts({ storeHealthy: false, messages: 1, failingForMs: 10 * 60_000 }))).toBe('defer');
  });

  it('waits out an overload of a healthy-looking store: one probe split, then no nack without evidence', () => {
    expect(stepAfterFailure(facts({ probe: true }))).toBe('split');
    expect(stepAfterFailure(facts({ probe: true, messages: 1 }))).toBe('defer');
    expect(stepAfterFailure(facts({}))).toBe('defer');
    expect(stepAfterFailure(facts({ messages: 1, failingForMs: 59_999 }))).toBe('defer');
  });

  it('isolates a retryable failure once the store took other writes, or the group failed alone for long', () => {
    expect(stepAfterFailure(facts({ othersWritten: true }))).toBe('split');
    expect(stepAfterFailure(facts({ othersWritten: true, messages: 1 }))).toBe('nack');
    expect(stepAfterFailure(facts({ messages: 1, failingForMs: 60_000 }))).toBe('nack');
    expect(stepAfterFailure(facts({ messages: 1, failingForMs: 60_000, storeHealthy: false }))).toBe('defer');
  });
});
