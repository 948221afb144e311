// Runs a scenario under k6: options (scenarios, thresholds), the iteration (one request of the
// mix, its checks, the events counter) and handleSummary (the sluice-load-summary/1 JSON that
// docs/sizing.md describes and `sluice size` reads). Imported by load-tests/{capacity,soak,spike,mix}.js.
import http from 'k6/http';
import { check } from 'k6';
import { Counter } from 'k6/metrics';
import { createRequestBuilder } from './payload.js';
import { scaledLoad } from './scenario.js';

/** Events the server accepted (the answer's acceptedPath equals the batch size), for events/s. */
const acceptedEvents = new Counter('sluice_events');

/** Percentiles the end-of-test summary carries (k6 leaves p(99) out by default). */
const TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(95)', 'p(99)', 'count'];

/**
 * Everything a k6 script exports, for `scenario` with the shared `templates`, configured by
 * k6's -e variables: SLUICE_URL (http://127.0.0.1:8686), SOURCE_IDS (comma-separated, the
 * first the hot one; default SOURCE_ID or demo), RATE_SCALE and TIME_SCALE (1: multiply every
 * rate, every duration), SUMMARY_PATH (<scenario>-summary.json, relative to the working directory).
 */
export function scenarioTest(scenario, templates, env) {
  const baseUrl = (env.SLUICE_URL || 'http://127.0.0.1:8686').replace(/\/$/, '');
  const sources = (env.SOURCE_IDS || env.SOURCE_ID || 'demo').split(',').map((id) => id.trim()).filter((id) => id !== '');
  const load = scaledLoad(scenario.load, Number(env.RATE_SCALE || 1), Number(env.TIME_SCALE || 1));
  const builder = createRequestBuilder(scenario, templates, sources, Math.random);
  const summaryPath = env.SUMMARY_PATH || `${scenario.name}-summary.json`;

  const options = {
    scenarios: { [scenario.name]: { ...load } },
    thresholds: scenario.thresholds,
    summaryTrendStats: TREND_STATS,
  };

  function iteration() {
    const request = builder.next(__VU, __ITER);
    const response = http.request(request.method, `${baseUrl}${request.path}`, request.body, { headers: request.headers, tags: { name: request.name } });
    const accepted = acceptedCount(response, request.acceptedPath);
    check(response, {
      'status is as expected': (r) => r.status === request.expectStatus,
      'every event accepted': () => accepted === request.batchSize,
    });
    if (accepted === request.batchSize) acceptedEvents.add(request.batchSize);
  }

  function handleSummary(data) {
    const summary = sluiceSummary(data, scenario.name, baseUrl);
    const t = summary.totals;
    const line = `${scenario.name}: ${t.requests} requests (${t.requestsPerS.toFixed(1)}/s), ${t.events} events (${t.eventsPerS.toFixed(1)}/s), p99 ${t.latencyMs.p99.toFixed(1)} ms, errors ${t.errors}, dropped ${t.dropped}; thresholds ${summary.thresholds.every((x) => x.ok) ? 'met' : 'FAILED'}; summary in ${summaryPath}\n`;
    return { stdout: line, [summaryPath]: JSON.stringify(summary, null, 2) };
  }

  return { options, iteration, handleSummary };
}

function acceptedCount(response, path) {
  try {
    const value = response.json(path);
    return typeof value === 'number' ? value : undefined;
  } catch {
    return undefined; // not JSON: the status check says why
  }
}

function metricValue(data, metric, stat) {
  const found = data.metrics[metric];
  return found && typeof found.values[stat] === 'number' ? found.values[stat] : 0;
}

/**
 * k6's end-of-test data as a sluice-load-summary/1 object (docs/sizing.md). k6 reports totals
 * only: `stages` is empty and `errorsByStatus` null (the Node runner fills both).
 */
export function sluiceSummary(data, scenarioName, url) {
  const durationS = data.state.testRunDurationMs / 1000;
  const requests = metricValue(data, 'http_reqs', 'count');
  const events = metricValue(data, 'sluice_events', 'count');
  const thresholds = [];
  for (const metric of Object.keys(data.metrics)) {
    const defined = data.metrics[metric].thresholds || {};
    for (const expression of Object.keys(defined)) thresholds.push({ metric, expression, ok: defined[expression].ok });
  }
  return {
    format: 'sluice-load-summary/1',
    runner: 'k6',
    scenario: scenarioName,
    url,
    finishedAt: new Date().toISOString(),
    durationS,
    totals: {
      requests,
      events,
      requestsPerS: durationS > 0 ? requests / durationS : 0,
      eventsPerS: durationS > 0 ? events / durationS : 0,
      errors: metricValue(data, 'http_req_failed', 'passes'),
      errorRate: metricValue(data, 'http_req_failed', 'rate'),
      dropped: metricValue(data, 'dropped_iterations', 'count'),
      latencyMs: {
        avg: metricValue(data, 'http_req_duration', 'avg'),
        p50: metricValue(data, 'http_req_duration', 'p(50)'),
        p95: metricValue(data, 'http_req_duration', 'p(95)'),
        p99: metricValue(data, 'http_req_duration', 'p(99)'),
        max: metricValue(data, 'http_req_duration', 'max'),
      },
    },
    errorsByStatus: null,
    thresholds,
    stages: [],
  };
}
