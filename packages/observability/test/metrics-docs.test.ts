import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Metrics } from '../src/index.ts';

// docs/metrics.md lists every metric operators can read; a metric added without a line there fails here.
const docs = readFileSync(join(process.cwd(), 'docs', 'metrics.md'), 'utf8');

describe('docs/metrics.md', () => {
  it('documents every sluice_* metric of the process registry, with its type', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const registered = (await metrics.registry.getMetricsAsJSON()).filter((metric) => metric.name.startsWith('sluice_'));
    expect(registered.length).toBeGreaterThan(20);
    const undocumented = registered.filter((metric) => !new RegExp(`\\| \`${metric.name}\` \\| ${String(metric.type)} \\|`).test(docs)).map((metric) => `${metric.name} (${String(metric.type)})`);
    expect(undocumented).toEqual([]);
  });
});
