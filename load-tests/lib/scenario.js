// Scenario arithmetic shared by the k6 scripts and the Node runners: plain ECMAScript, no Node
// and no k6 API, so k6 imports it as it is. Types: scenario.d.ts.

const DURATION_PART = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g;
const UNIT_MS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/** A k6 duration string ("90s", "1m30s", "250ms") in milliseconds; throws on anything else. */
export function parseDurationMs(text) {
  if (typeof text !== 'string' || !/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(text)) throw new Error(`not a k6 duration: ${JSON.stringify(text)}`);
  let total = 0;
  const parts = new RegExp(DURATION_PART.source, 'g'); // exec loop rather than matchAll: older k6 runtimes lack it
  for (let match = parts.exec(text); match !== null; match = parts.exec(text)) total += Number(match[1]) * UNIT_MS[match[2]];
  return total;
}

/** Milliseconds as a k6 duration string. */
export function formatDuration(ms) {
  return `${Math.round(ms)}ms`;
}

/**
 * The scenario's load with every rate multiplied by rateScale and every duration by timeScale
 * (RATE_SCALE and TIME_SCALE: run a scenario smaller or shorter without editing it). Rates
 * are rounded to whole requests per timeUnit, as k6 takes them; a constant rate stays ≥ 1.
 */
export function scaledLoad(load, rateScale, timeScale) {
  const rate = (value) => Math.round(value * rateScale);
  const duration = (value) => formatDuration(parseDurationMs(value) * timeScale);
  if (load.executor === 'constant-arrival-rate') return { ...load, rate: Math.max(1, rate(load.rate)), duration: duration(load.duration) };
  return { ...load, startRate: rate(load.startRate), stages: load.stages.map((stage) => ({ duration: duration(stage.duration), target: rate(stage.target) })) };
}

/**
 * The load as rate segments in requests per second: each moves linearly from fromPerS to
 * toPerS over durationMs (k6's ramping-arrival-rate; constant-arrival-rate is one flat segment).
 */
export function rateSegments(load) {
  const perSecond = 1000 / parseDurationMs(load.timeUnit);
  if (load.executor === 'constant-arrival-rate') {
    return [{ durationMs: parseDurationMs(load.duration), fromPerS: load.rate * perSecond, toPerS: load.rate * perSecond }];
  }
  let from = load.startRate * perSecond;
  return load.stages.map((stage) => {
    const segment = { durationMs: parseDurationMs(stage.duration), fromPerS: from, toPerS: stage.target * perSecond };
    from = segment.toPerS;
    return segment;
  });
}
