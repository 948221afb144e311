import { Counter } from 'prom-client';
import type { Metrics } from '@sluice/observability';
import type { MergeRefusal } from './identity.ts';

const counters = new WeakMap<Metrics, Counter<'reason'>>();

/**
 * `sluice_segment_merges_refused_total{reason}`: identify or alias calls that named two ids
 * and merged nothing (`already-merged`: the anonymous or previous profile lives in another
 * profile already; `conflict`: the store refused the merge, e.g. a cycle; `blank-id`: an
 * alias whose previousId is blank). Registered once per metrics registry.
 */
export function mergesRefusedCounter(metrics: Metrics): (reason: MergeRefusal) => void {
  let counter = counters.get(metrics);
  if (counter === undefined) {
    counter = new Counter({ name: 'sluice_segment_merges_refused_total', help: 'Segment identify/alias calls that named two ids and merged nothing, by reason.', labelNames: ['reason'] as const, registers: [metrics.registry] });
    counters.set(metrics, counter);
  }
  const refused = counter;
  return (reason) => refused.inc({ reason });
}
