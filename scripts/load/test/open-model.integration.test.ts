// The open-model generator against a bare HTTP server on loopback that answers slowly: requests
// start on the schedule whether or not earlier ones answered (achieved rate ≈ offered, many in
// flight at once), ramps follow their integral, and arrivals beyond maxVUs in flight are dropped
// and counted. Rates are checked within 10%, not to the millisecond.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Load, Scenario } from '../../../load-tests/lib/scenario.js';
import { runOpenModel } from '../runner/open-model.ts';
import { loadScenario } from '../scenario-files.ts';

let server: Server;
let url = '';
let answerDelayMs = 0;
let inFlight = 0;
let peakInFlight = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    inFlight++;
    peakInFlight = Math.max(peakInFlight, inFlight);
    request.resume();
    request.on('end', () => setTimeout(() => {
      inFlight--;
      response.setHeader('content-type', 'application/json');
      response.end('{"events":["e"]}');
    }, answerDelayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const { templates } = loadScenario('capacity');
function scenario(load: Load): Scenario {
  return { name: 'test', description: 'test', load, population: { sources: { hotShare: 1 }, users: { count: 10, hot: 1, hotShare: 0 } }, requests: [{ name: 'track-1', template: 'track', weight: 1, batchSize: 1 }], thresholds: {} };
}

describe('open-model runner', () => {
  it('holds a constant arrival rate while answers take 200 ms: 200/s offered and sent, about 40 in flight', async () => {
    answerDelayMs = 200;
    peakInFlight = 0;
    const result = await runOpenModel({ scenario: scenario({ executor: 'constant-arrival-rate', rate: 200, timeUnit: '1s', duration: '3s', preAllocatedVUs: 10, maxVUs: 200 }), templates, url, sources: ['demo'] });
    const [stage] = result.stages;
    expect(stage!.scheduled).toBe(600);
    expect(stage!.started).toBe(stage!.scheduled);
    expect(stage!.dropped).toBe(0);
    expect(stage!.errors).toBe(0);
    expect(stage!.acceptedEvents).toBe(stage!.started);
    // A closed model with the same 200 ms answers would need 40 connections for 200/s; the open one has them in flight.
    expect(peakInFlight).toBeGreaterThanOrEqual(30);
    expect(stage!.latencyMs().p50).toBeGreaterThanOrEqual(195);
  }, 30_000);

  it('follows a ramp: 0 → 200/s over 2 s then 200/s for 1 s is 200 requests in the ramp and 200 after', async () => {
    answerDelayMs = 5;
    const result = await runOpenModel({ scenario: scenario({ executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', stages: [{ duration: '2s', target: 200 }, { duration: '1s', target: 200 }], preAllocatedVUs: 10, maxVUs: 100 }), templates, url, sources: ['demo'] });
    const [ramp, flat] = result.stages;
    // Arrivals due at a tick that crosses the boundary count in the later stage: a few either way.
    expect(ramp!.started).toBeGreaterThanOrEqual(190);
    expect(ramp!.started).toBeLessThanOrEqual(200);
    expect(ramp!.started + flat!.started).toBe(400);
    expect(ramp!.errors + flat!.errors + ramp!.dropped + flat!.dropped).toBe(0);
  }, 30_000);

  it('drops what arrives while maxVUs requests are in flight, and counts it', async () => {
    answerDelayMs = 1500;
    const result = await runOpenModel({ scenario: scenario({ executor: 'constant-arrival-rate', rate: 100, timeUnit: '1s', duration: '1s', preAllocatedVUs: 10, maxVUs: 10 }), templates, url, sources: ['demo'] });
    const [stage] = result.stages;
    expect(stage!.started).toBe(10);
    expect(stage!.dropped).toBe(stage!.scheduled - 10);
    expect(stage!.dropped).toBeGreaterThanOrEqual(85);
    expect(stage!.completed).toBe(10);
  }, 30_000);
});
