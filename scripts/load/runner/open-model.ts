// The open-model load generator: requests start on the scenario's schedule whether or not
// earlier ones have answered (k6's arrival-rate executors), at most load.maxVUs in flight; an
// arrival that finds them all busy is dropped and counted. Sends with undici, records per stage.
import { Pool } from 'undici';
import { createRequestBuilder, type Templates } from '../../../load-tests/lib/payload.js';
import { rateSegments, scaledLoad, type Scenario, type RateSegment } from '../../../load-tests/lib/scenario.js';
import { gjson } from '../compat/k6/gjson.ts';
import { arrivalsBy, scheduleDurationMs, segmentAt } from './schedule.ts';
import { newStageStats, type StageStats } from './stage-stats.ts';

export interface OpenModelOptions {
  scenario: Scenario;
  templates: Templates;
  /** Base URL of Sluice, e.g. http://127.0.0.1:8686; several: taken in turn, as a load balancer would. */
  url: string | readonly string[];
  /** Source ids (write keys); the first is the hot one. */
  sources: readonly string[];
  rateScale?: number;
  timeScale?: number;
  /** Called at the end of each stage; returning a reason stops the run there (abortOnFail). */
  onStageEnd?: (index: number, stats: StageStats, segment: RateSegment) => string | undefined;
  /** Called with the event ids of each request answered as expected with all its events accepted. */
  onAccepted?: (eventIds: readonly string[]) => void;
}

export interface OpenModelResult {
  segments: RateSegment[];
  stages: StageStats[];
  maxInFlight: number;
  /** From the start until the last arrival was scheduled (the schedule's length, or less when aborted), ms. */
  elapsedMs: number;
  /** Waiting for the answers still in flight after that, ms. */
  drainMs: number;
  aborted: string | null;
}

/** How often the scheduler wakes to start what is due, in ms (timers fire no finer than ~1 ms). */
const TICK_MS = 1;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the scenario's whole schedule (or until onStageEnd aborts) and waits for every request in flight. */
export async function runOpenModel(options: OpenModelOptions): Promise<OpenModelResult> {
  const load = scaledLoad(options.scenario.load, options.rateScale ?? 1, options.timeScale ?? 1);
  const segments = rateSegments(load);
  const totalMs = scheduleDurationMs(segments);
  const stages = segments.map(() => newStageStats());
  const maxInFlight = load.maxVUs;
  const builder = createRequestBuilder(options.scenario, options.templates, options.sources, Math.random);
  const urls = typeof options.url === 'string' ? [options.url] : options.url;
  const pools = urls.map((url) => new Pool(url, { connections: Math.ceil(maxInFlight / urls.length), pipelining: 1, keepAliveTimeout: 30_000 }));
  const inFlight = new Set<Promise<void>>();
  let launched = 0;
  let stageIndex = 0;
  let aborted: string | null = null;

  const send = async (stats: StageStats, iteration: number): Promise<void> => {
    const request = builder.next(0, iteration);
    const started = performance.now();
    try {
      const answer = await pools[iteration % pools.length]!.request({ method: request.method, path: request.path, headers: request.headers, body: request.body });
      const text = await answer.body.text();
      let accepted: unknown;
      try {
        accepted = gjson(JSON.parse(text), request.acceptedPath);
      } catch {
        accepted = undefined; // not JSON: counted as not accepted, or as an error by its status
      }
      stats.recordAnswer(performance.now() - started, answer.statusCode, request.expectStatus, request.batchSize, accepted);
      if (answer.statusCode === request.expectStatus && accepted === request.batchSize) options.onAccepted?.(request.eventIds);
    } catch {
      stats.recordAnswer(performance.now() - started, 'network', request.expectStatus, request.batchSize, undefined);
    }
  };

  const startedAt = performance.now();
  let scheduledMs: number;
  try {
    for (;;) {
      const elapsed = Math.min(performance.now() - startedAt, totalMs);
      const current = segmentAt(segments, elapsed);
      const due = Math.floor(arrivalsBy(segments, elapsed));
      for (; launched < due; launched++) {
        const stats = stages[current]!;
        stats.scheduled++;
        if (inFlight.size >= maxInFlight) {
          stats.dropped++;
          continue;
        }
        stats.started++;
        const request = send(stats, launched).finally(() => inFlight.delete(request));
        inFlight.add(request);
      }
      // A stage has ended once the clock is past it; its last answers may still be in flight.
      const ended = elapsed >= totalMs ? segments.length : current;
      for (; stageIndex < ended && aborted === null; stageIndex++) aborted = options.onStageEnd?.(stageIndex, stages[stageIndex]!, segments[stageIndex]!) ?? null;
      if (aborted !== null || elapsed >= totalMs) break;
      await pause(TICK_MS);
    }
    scheduledMs = performance.now() - startedAt;
    await Promise.all(inFlight);
  } finally {
    await Promise.all(pools.map((pool) => pool.close()));
  }
  return { segments, stages, maxInFlight, elapsedMs: scheduledMs, drainMs: performance.now() - startedAt - scheduledMs, aborted };
}
