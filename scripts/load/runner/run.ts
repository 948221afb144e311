// `npm run load:run -- <scenario> --url URL --source ID[,ID…] [--rate-scale N] [--time-scale N] [--out FILE]`:
// runs a scenario (load-tests/scenarios/<name>.json, or a path) with the open-model generator,
// prints a line per stage, writes the sluice-load-summary/1 JSON (default <scenario>-summary.json)
// and exits 99 when a threshold failed (as k6 does), 1 on bad arguments.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadScenario } from '../scenario-files.ts';
import { runOpenModel } from './open-model.ts';
import { abortReason, openModelSummary } from './report.ts';
import { validateSummary } from '../summary.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env['SLUICE_URL'] ?? 'http://127.0.0.1:8686' },
    source: { type: 'string', default: process.env['SOURCE_IDS'] ?? process.env['SOURCE_ID'] ?? 'demo' },
    'rate-scale': { type: 'string', default: process.env['RATE_SCALE'] ?? '1' },
    'time-scale': { type: 'string', default: process.env['TIME_SCALE'] ?? '1' },
    out: { type: 'string' },
  },
});
const name = positionals[0];
const rateScale = Number(values['rate-scale']);
const timeScale = Number(values['time-scale']);
if (name === undefined || !(rateScale > 0) || !(timeScale > 0)) {
  process.stderr.write('usage: npm run load:run -- <scenario|file.json> --url URL --source ID[,ID…] [--rate-scale N] [--time-scale N] [--out FILE]\n');
  process.exit(1);
}
const { scenario, templates } = loadScenario(name);
const sources = values.source.split(',').map((id) => id.trim()).filter((id) => id !== '');
/** Where the next stage starts on the schedule, in ms: stages end in order. */
let nextStageStartMs = 0;

process.stdout.write(`load:run ${scenario.name} against ${values.url} (sources ${sources.join(', ')}; rate ×${rateScale}, time ×${timeScale})\n`);
const result = await runOpenModel({
  scenario, templates, url: values.url, sources, rateScale, timeScale,
  onStageEnd: (index, stats, segment) => {
    const startMs = nextStageStartMs;
    nextStageStartMs += segment.durationMs;
    const latency = stats.latencyMs();
    process.stdout.write(`stage ${index}: ${Math.round(segment.fromPerS)}→${Math.round(segment.toPerS)} req/s offered ${(stats.scheduled / (segment.durationMs / 1000)).toFixed(1)}/s, sent ${(stats.started / (segment.durationMs / 1000)).toFixed(1)}/s, events ${(stats.acceptedEvents / (segment.durationMs / 1000)).toFixed(1)}/s, p50 ${latency.p50} p95 ${latency.p95} p99 ${latency.p99} max ${latency.max} ms, errors ${stats.errors} ${JSON.stringify(stats.errorsByStatus)}, dropped ${stats.dropped}\n`);
    return abortReason(scenario, index, stats, segment, startMs);
  },
});
const summary = validateSummary(openModelSummary(scenario, values.url, result, { rateScale, timeScale }), 'the run summary');
const out = values.out ?? `${scenario.name}-summary.json`;
writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
const t = summary.totals;
const failed = summary.thresholds.filter((threshold) => !threshold.ok);
if (result.aborted !== null) process.stdout.write(`aborted: ${result.aborted}\n`);
process.stdout.write(`${scenario.name}: ${t.requests} requests (${t.requestsPerS.toFixed(1)}/s), ${t.events} events (${t.eventsPerS.toFixed(1)}/s), p99 ${t.latencyMs.p99} ms, errors ${t.errors}, dropped ${t.dropped}; thresholds ${failed.length === 0 ? 'met' : `FAILED: ${failed.map((threshold) => `${threshold.metric} ${threshold.expression}`).join(', ')}`}; summary in ${out}\n`);
process.exitCode = failed.length === 0 ? 0 : 99;
