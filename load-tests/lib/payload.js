// The payload generator: request bodies built from a scenario and the shared request templates
// (load-tests/scenarios/templates.json). Plain ECMAScript, no Node and no k6 API: the k6
// scripts and the Node runner import this same module. Types: payload.d.ts.

const WHOLE = /^\{\{(\w+)\}\}$/;
const INSIDE = /\{\{(\w+)\}\}/g;
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 of an ASCII string (k6 has no btoa; source ids are ASCII by Sluice's id rule). */
export function base64Ascii(text) {
  let out = '';
  for (let i = 0; i < text.length; i += 3) {
    const a = text.charCodeAt(i), b = text.charCodeAt(i + 1), c = text.charCodeAt(i + 2);
    const bits = (a << 16) | ((b || 0) << 8) | (c || 0);
    out += BASE64[(bits >> 18) & 63] + BASE64[(bits >> 12) & 63];
    out += i + 1 < text.length ? BASE64[(bits >> 6) & 63] : '=';
    out += i + 2 < text.length ? BASE64[bits & 63] : '=';
  }
  return out;
}

/** Replaces the placeholders in `value` (deeply) by `values`; an unknown placeholder throws. */
export function expand(value, values, where) {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(values, whole[1], where);
    return value.replace(INSIDE, (_, name) => String(lookup(values, name, where)));
  }
  if (Array.isArray(value)) return value.map((item) => expand(item, values, where));
  if (value !== null && typeof value === 'object') {
    const out = {};
    for (const key of Object.keys(value)) out[key] = expand(value[key], values, where);
    return out;
  }
  return value;
}

function lookup(values, name, where) {
  if (!Object.prototype.hasOwnProperty.call(values, name)) throw new Error(`unknown placeholder {{${name}}} in ${where}`);
  return values[name];
}

/**
 * A request builder for `scenario`: next(vu, iteration) picks a request of the mix by weight,
 * a source (the first of `sources` with population.sources.hotShare of the requests) and a user
 * (population.users.hotShare of the requests from the hot users), and builds the request.
 * `random` returns a number in [0, 1). Throws at once when a request names an unknown template.
 */
export function createRequestBuilder(scenario, templates, sources, random) {
  if (!Array.isArray(sources) || sources.length === 0) throw new Error('createRequestBuilder: at least one source id is needed');
  for (const request of scenario.requests) {
    if (!templates[request.template]) throw new Error(`scenario ${scenario.name}: request ${request.name} names the unknown template ${request.template}`);
  }
  const totalWeight = scenario.requests.reduce((sum, request) => sum + request.weight, 0);
  const runId = Date.now().toString(36) + Math.floor(random() * 1e6).toString(36);
  const { sources: sourceMix, users } = scenario.population;

  function pickRequest() {
    let left = random() * totalWeight;
    for (const request of scenario.requests) {
      left -= request.weight;
      if (left < 0) return request;
    }
    return scenario.requests[scenario.requests.length - 1];
  }
  function pickSource() {
    if (sources.length === 1 || random() < sourceMix.hotShare) return sources[0];
    return sources[1 + Math.floor(random() * (sources.length - 1))];
  }
  function pickUser() {
    return String(random() < users.hotShare ? Math.floor(random() * users.hot) : Math.floor(random() * users.count));
  }

  return {
    next(vu, iteration) {
      const request = pickRequest();
      const template = templates[request.template];
      const source = pickSource();
      const user = pickUser();
      const now = new Date().toISOString();
      const base = { source, user, session: `lt-session-${user}`, iteration, now };
      const events = [];
      const eventIds = [];
      for (let index = 0; index < request.batchSize; index++) {
        const eventId = `lt-${runId}-${vu}-${iteration}-${index}`;
        eventIds.push(eventId);
        events.push(expand(template.event, { ...base, index, eventId }, `template ${request.template} event`));
      }
      const body = expand(template.body, { ...base, events }, `template ${request.template} body`);
      const headers = { 'content-type': 'application/json' };
      if (template.auth === 'basic-write-key') headers.authorization = `Basic ${base64Ascii(`${source}:`)}`;
      return { name: request.name, method: template.method, path: template.path, headers, body: JSON.stringify(body), batchSize: request.batchSize, eventIds, expectStatus: template.expectStatus, acceptedPath: template.acceptedPath };
    },
  };
}
