// The scenario files and the payload generator every runner shares: the committed scenarios
// match the schema, a broken one is refused with its problems listed, and the requests built
// from them are the shapes Sluice takes (/track, and Segment /v1/batch with the write key in
// HTTP Basic), in the mix the scenario asks for.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { base64Ascii, createRequestBuilder, expand } from '../../../load-tests/lib/payload.js';
import { scaledLoad } from '../../../load-tests/lib/scenario.js';
import { loadScenario, SCENARIOS_DIR } from '../scenario-files.ts';

/** A deterministic [0, 1) sequence (a linear congruential generator), so the mix is checked without flakes. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

function writeScenario(edit: (scenario: Record<string, unknown>) => void): string {
  const scenario = JSON.parse(readFileSync(join(SCENARIOS_DIR, 'mix.json'), 'utf8')) as Record<string, unknown>;
  edit(scenario);
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-scenario-')), 'broken.json');
  writeFileSync(file, JSON.stringify(scenario));
  return file;
}

describe('scenario files', () => {
  it.each(['capacity', 'soak', 'spike', 'mix'])('%s matches the schema and builds a request of every kind it names', (name) => {
    const { scenario, templates } = loadScenario(name);
    const builder = createRequestBuilder(scenario, templates, ['demo'], seeded(7));
    const seen = new Set<string>();
    for (let iteration = 0; iteration < 500; iteration++) seen.add(builder.next(1, iteration).name);
    expect([...seen].sort()).toEqual(scenario.requests.map((request) => request.name).sort());
  });

  it('refuses a scenario that does not match the schema, listing every problem', () => {
    const file = writeScenario((scenario) => {
      delete scenario['thresholds'];
      (scenario['load'] as Record<string, unknown>)['duration'] = '10 minutes';
    });
    expect(() => loadScenario(file)).toThrow(/does not match load-tests\/scenarios\/scenario.schema.json:\n.*thresholds/s);
  });

  it('refuses a request naming a template that does not exist', () => {
    const file = writeScenario((scenario) => ((scenario['requests'] as { template: string }[])[0]!.template = 'tracc'));
    expect(() => loadScenario(file)).toThrow('request track-1 names the unknown template tracc (templates.json has track, segment-batch)');
  });
});

describe('payload generator', () => {
  const { scenario, templates } = loadScenario('mix');
  const byName = (name: string): { vu: number; iteration: number } => ({ vu: 3, iteration: [...Array(1000).keys()].find((iteration) => createRequestBuilder(scenario, templates, ['hot', 'cold'], seeded(iteration)).next(3, iteration).name === name)! });

  it('builds a Tracardi /track body: source, session and profile of one user, batchSize events with distinct ids', () => {
    const { iteration } = byName('track-20');
    const request = createRequestBuilder(scenario, templates, ['hot', 'cold'], seeded(iteration)).next(3, iteration);
    const body = JSON.parse(request.body) as { source: { id: string }; session: { id: string }; profile: { id: string }; events: { id: string; type: string; time: string; properties: { index: number } }[] };
    expect(request).toMatchObject({ method: 'POST', path: '/track', batchSize: 20, expectStatus: 200, acceptedPath: 'events.#', headers: { 'content-type': 'application/json' } });
    expect(request.headers).not.toHaveProperty('authorization');
    expect(['hot', 'cold']).toContain(body.source.id);
    expect(body.profile.id.replace('lt-profile-', '')).toBe(body.session.id.replace('lt-session-', ''));
    expect(body.events).toHaveLength(20);
    expect(new Set(body.events.map((event) => event.id)).size).toBe(20);
    expect(body.events.map((event) => event.properties.index)).toEqual([...Array(20).keys()]);
    expect(body.events[0]).toMatchObject({ type: 'page-view', id: expect.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/) });
    expect(Number.isNaN(Date.parse(body.events[0]!.time))).toBe(false);
  });

  it('builds a Segment /v1/batch: the write key (source id) as HTTP Basic user, a messageId per event', () => {
    const { iteration } = byName('segment-5');
    const request = createRequestBuilder(scenario, templates, ['hot', 'cold'], seeded(iteration)).next(3, iteration);
    const body = JSON.parse(request.body) as { batch: { type: string; messageId: string; anonymousId: string; event: string }[] };
    expect(request).toMatchObject({ path: '/v1/batch', batchSize: 5, acceptedPath: 'accepted' });
    const [user, password] = Buffer.from(request.headers['authorization']!.replace(/^Basic /, ''), 'base64').toString().split(':');
    expect(['hot', 'cold']).toContain(user);
    expect(password).toBe('');
    expect(body.batch).toHaveLength(5);
    expect(body.batch.every((event) => event.type === 'track' && event.event === 'Product Viewed' && event.anonymousId.startsWith('lt-anon-'))).toBe(true);
    expect(new Set(body.batch.map((event) => event.messageId)).size).toBe(5);
  });

  it('sends the hot source its share and the request kinds by weight (mix: 70% hot source, 25% Segment)', () => {
    const builder = createRequestBuilder(scenario, templates, ['hot', 'cold-1', 'cold-2'], seeded(42));
    const counts: Record<string, number> = {};
    let hot = 0;
    const total = 20_000;
    for (let iteration = 0; iteration < total; iteration++) {
      const request = builder.next(1, iteration);
      counts[request.path] = (counts[request.path] ?? 0) + 1;
      const body = JSON.parse(request.body) as { source?: { id: string } };
      const source = body.source?.id ?? Buffer.from(request.headers['authorization']!.slice(6), 'base64').toString().slice(0, -1);
      if (source === 'hot') hot++;
    }
    // population.sources.hotShare 0.7: the first source gets 70%, the two others 15% each.
    expect(hot / total).toBeGreaterThan(0.67);
    expect(hot / total).toBeLessThan(0.73);
    expect(counts['/v1/batch']! / total).toBeGreaterThan(0.22);
    expect(counts['/v1/batch']! / total).toBeLessThan(0.28);
  });

  it('keeps a whole-string placeholder\'s type, interpolates inside strings, and refuses an unknown one', () => {
    expect(expand({ a: '{{n}}', b: 'x-{{n}}', c: ['{{list}}'] }, { n: 3, list: [1] }, 't')).toEqual({ a: 3, b: 'x-3', c: [[1]] });
    expect(() => expand({ a: '{{nope}}' }, {}, 'template t')).toThrow('unknown placeholder {{nope}} in template t');
  });

  it('encodes Basic credentials as Buffer does', () => {
    for (const text of ['demo:', 'ab:', 'abc:', 'a-longer.source_id:']) expect(base64Ascii(text)).toBe(Buffer.from(text).toString('base64'));
  });

  it('scales rates to whole requests per time unit and durations by the time scale', () => {
    expect(scaledLoad(scenario.load, 0.001, 0.01)).toMatchObject({ executor: 'constant-arrival-rate', rate: 1, duration: '6000ms' });
    expect(scaledLoad(loadScenario('spike').scenario.load, 0.5, 1)).toMatchObject({ startRate: 125, stages: [{ duration: '60000ms', target: 125 }, { duration: '5000ms', target: 1000 }, {}, {}, {}] });
  });
});
