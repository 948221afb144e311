// Sluice on the real Pulsar broker (npm run engines:up -- pulsar): the whole path, replicas
// that wait for `sluice init` (with Elasticsearch and its roles), and a broker restart under load.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from '@jest/globals';
import { partitionOfKey } from '@sluice/bus';
import { ElasticStore } from '@sluice/store';
import { REPO_ROOT, engineEnv, profileEventIds as readIds, randomName, readiness, runEngines, runSluice, startSluice, tempDir, trackEvents, waitFor, type SluiceProcess } from '@sluice/testkit';

const ADMIN_TOKEN = 'pulsar-test-admin-token-123';
const pulsar = engineEnv('pulsar');

let processes: SluiceProcess[] = [];
let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const running of processes) await running.stop().catch(() => undefined);
  for (const cleanup of cleanups) await cleanup();
  processes = [];
  cleanups = [];
});

async function start(command: string, extra: Record<string, string> = {}): Promise<{ sluice: SluiceProcess; namespace: string; env: Record<string, string> }> {
  const { dir, cleanup } = await tempDir('sluice-pulsar-');
  const namespace = randomName('it-');
  cleanups.push(cleanup, async () => {
    await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
  });
  const env = {
    DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'error', STORAGE_FLUSH_INTERVAL: '200',
    BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: pulsar['PULSAR_WEB_HOST']!, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '2',
    ...extra,
  };
  // Replicas (api, worker) provision nothing: `sluice init` first. The all-in-one does it itself.
  if (command !== 'start') expect((await runSluice(['init'], env)).code).toBe(0);
  const sluice = await startSluice(command, env, 60_000);
  processes.push(sluice);
  return { sluice, namespace, env };
}

const track = (url: string, profile: string, ids: string[]) => trackEvents(url, profile, ids, 'pulsar-test');
const profileEventIds = (url: string, profile: string) => readIds(url, profile, ADMIN_TOKEN);

/** A storage worker alone (it serves no HTTP); ready once Pulsar lists it as a consumer. */
function spawnWorker(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['apps/cli/src/bin.ts', 'worker'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  return child;
}

async function consumersOf(namespace: string, subscription: string): Promise<number> {
  const response = await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/persistent/public/${namespace}/events/partitioned-stats?perPartition=false`);
  if (!response.ok) return 0;
  const stats = (await response.json()) as { subscriptions?: Record<string, { consumers?: unknown[] }> };
  return stats.subscriptions?.[subscription]?.consumers?.length ?? 0;
}

const engines = (command: 'up' | 'down') => runEngines(command, ['pulsar']);

describe('Sluice on Pulsar', () => {
  it('all-in-one: creates its namespace and topics, and stores what /track accepted', async () => {
    const { sluice, namespace } = await start('start');
    const web = pulsar['PULSAR_WEB_HOST']!;
    const partitions = (await (await fetch(`${web}/admin/v2/persistent/public/${namespace}/events/partitions`)).json()) as { partitions: number };
    expect(partitions.partitions).toBe(2);
    const retention = await (await fetch(`${web}/admin/v2/namespaces/public/${namespace}/retention`)).json();
    expect(retention).toEqual({ retentionTimeInMinutes: 30 * 24 * 60, retentionSizeInMB: 1024 });
    const ready = (await (await fetch(`${sluice.url}/readyz`)).json()) as { dependencies: Record<string, { ok: boolean; adapter: string }> };
    expect(ready.dependencies['bus']).toMatchObject({ ok: true, adapter: 'pulsar' });

    expect(await track(sluice.url, 'pulsar-profile', ['p-1', 'p-2'])).toBe(200);
    await waitFor(async () => (await profileEventIds(sluice.url, 'pulsar-profile')).length === 2, 10_000, () => 'events did not reach the store');
  });

  /** Four clients send 2-event requests while the broker restarts; returns what got a 200. */
  async function restartUnderLoad(sluice: SluiceProcess, duringOutage: () => Promise<void> = async () => undefined) {
    const accepted = new Map<string, string[]>();
    const statuses = new Map<number, number>();
    let sent = 0;
    let stop = false;
    const client = async (n: number) => {
      const profile = `restart-${String(n)}`;
      accepted.set(profile, []);
      while (!stop) {
        sent += 1;
        const ids = [`r${String(n)}-${String(sent)}-a`, `r${String(n)}-${String(sent)}-b`];
        const status = await track(sluice.url, profile, ids);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 200) accepted.get(profile)?.push(...ids);
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const clients = Promise.all([0, 1, 2, 3].map(client));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    engines('down');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await duringOutage();
    engines('up');
    await new Promise((resolve) => setTimeout(resolve, 3000));
    stop = true;
    await clients;
    return { accepted, statuses };
  }

  async function expectStoredExactlyOnce(sluice: SluiceProcess, accepted: Map<string, string[]>): Promise<void> {
    const total = [...accepted.values()].reduce((sum, ids) => sum + ids.length, 0);
    expect(total).toBeGreaterThan(100);
    for (const [profile, ids] of accepted) {
      await waitFor(async () => (await profileEventIds(sluice.url, profile)).length >= ids.length, 60_000, () => `${profile}: not every accepted event was stored`);
      const stored = await profileEventIds(sluice.url, profile);
      // Exactly once: no duplicates, and every 200'd id (a timed-out publish may also land).
      expect(new Set(stored).size).toBe(stored.length);
      expect(ids.filter((id) => !stored.includes(id))).toEqual([]);
    }
  }

  it('answers 200 through the local spool while the broker restarts, then forwards: every event stored exactly once', async () => {
    const { sluice } = await start('start');
    let readyDuringOutage: { status: number; spooled: number } | undefined;
    const { accepted, statuses } = await restartUnderLoad(sluice, async () => {
      const response = await fetch(`${sluice.url}/readyz`);
      const body = (await response.json()) as { dependencies: { bus: { detail: { spool: { spooled: number } } } } };
      readyDuringOutage = { status: response.status, spooled: body.dependencies.bus.detail.spool.spooled };
    });
    expect([...statuses.keys()]).toEqual([200]);
    expect(readyDuringOutage?.status).toBe(200);
    expect(readyDuringOutage?.spooled).toBeGreaterThan(0);
    await expectStoredExactlyOnce(sluice, accepted);
  });

  it('with the spool off, answers 503 while the broker is away and stores every 200\'d event exactly once', async () => {
    const { sluice } = await start('start', { SPOOL_ENABLED: 'false', BUS_PUBLISH_TIMEOUT: '2000' });
    const { accepted, statuses } = await restartUnderLoad(sluice);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    await expectStoredExactlyOnce(sluice, accepted);
  });

  /** The events topic's messages, as the broker counted them on arrival. */
  async function messagesIn(namespace: string): Promise<number> {
    const stats = (await (await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/persistent/public/${namespace}/events/partitioned-stats`)).json()) as { msgInCounter?: number };
    return stats.msgInCounter ?? 0;
  }

  /** Ends the events topic for producers (every partition): the broker refuses every publish from now on. */
  async function terminateEvents(namespace: string): Promise<void> {
    const response = await fetch(`${pulsar['PULSAR_WEB_HOST']!}/admin/v2/persistent/public/${namespace}/events/terminate/partitions`, { method: 'POST' });
    expect(response.status).toBe(200);
  }

  /**
   * `count` /track requests at once, each one event for its own profile, all profiles on
   * `partition` of the events topic (2 partitions); their statuses and how long each took (ms).
   */
  async function concurrentRequests(url: string, prefix: string, count: number, partition = 0): Promise<{ profile: string; status: number; ms: number }[]> {
    const profiles = Array.from({ length: count * 4 }, (_, n) => `${prefix}-${String(n)}`).filter((profile) => partitionOfKey(profile, 2) === partition).slice(0, count);
    expect(profiles).toHaveLength(count);
    return Promise.all(profiles.map(async (profile) => {
      const started = Date.now();
      const status = await track(url, profile, [`${profile}-e`]);
      return { profile, status, ms: Date.now() - started };
    }));
  }

  it('groups concurrent requests bound for one partition into one bus message, answers each 200 only once that message is acknowledged, and a group the broker refuses with 503 for every request in it', async () => {
    const { sluice, namespace } = await start('start', { SPOOL_ENABLED: 'false', PULSAR_GROUP_LINGER: '300', BUS_PUBLISH_TIMEOUT: '3000' });
    const before = await messagesIn(namespace);
    // Ten profiles on one partition, five on the other: a group holds one partition's requests.
    const [grouped, others] = await Promise.all([concurrentRequests(sluice.url, 'grouped', 10, 0), concurrentRequests(sluice.url, 'other', 5, 1)]);
    expect([...grouped, ...others].map((request) => request.status)).toEqual(Array(15).fill(200));
    // They waited for the group (the linger), then for its acknowledgement; the broker got one message a partition.
    expect(Math.min(...grouped.map((request) => request.ms))).toBeGreaterThanOrEqual(250);
    await waitFor(async () => (await messagesIn(namespace)) >= before + 2, 10_000, () => 'the broker counted fewer than two messages');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await messagesIn(namespace)) - before).toBe(2);
    for (const { profile } of grouped) await waitFor(async () => (await profileEventIds(sluice.url, profile)).length === 1, 20_000, () => `${profile}: its event was not stored`);

    // From now on the broker refuses every message: each request of the failed group gets 503.
    await terminateEvents(namespace);
    const refused = await concurrentRequests(sluice.url, 'refused', 10);
    expect(refused.map((request) => request.status)).toEqual(Array(10).fill(503));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const { profile } of refused) expect(await profileEventIds(sluice.url, profile)).toEqual([]);
  });

  it('spools every request of a group the broker refuses, one by one, and answers each 200', async () => {
    const { sluice, namespace } = await start('api', { PULSAR_GROUP_LINGER: '100' });
    await terminateEvents(namespace);
    const spooled = await concurrentRequests(sluice.url, 'spooled', 10);
    expect(spooled.map((request) => request.status)).toEqual(Array(10).fill(200));
    const ready = await readiness(sluice.url, ADMIN_TOKEN);
    expect(ready.body.dependencies['bus']?.detail).toMatchObject({ primaryOk: true, spool: { spooled: 10 } });
  });

  it('hands the messages of a worker killed mid-batch to another worker, and stores them once', async () => {
    // The API alone, then two workers that hold up to one batch for 3 s before writing.
    const { sluice, namespace, env } = await start('api');
    const workerEnv = { ...env, STORAGE_FLUSH_INTERVAL: '3000', STORAGE_BATCH_SIZE: '500' };
    const doomed = spawnWorker({ ...workerEnv, PORT: '0' });
    // The survivor is probed as an orchestrator would: /healthz, then /readyz per dependency.
    const survivor = await startSluice('worker', workerEnv, 60_000);
    processes.push(survivor);
    // Alive first, ready once it has checked that init ran and has subscribed.
    await waitFor(async () => (await readiness(survivor.url)).status === 200, 20_000, () => `the worker did not become ready:\n${survivor.output()}`);
    const ready = await fetch(`${survivor.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { dependencies: Record<string, { adapter: string }> }).dependencies).toMatchObject({ bus: { adapter: 'pulsar' }, store: { adapter: 'embedded' } });
    expect(await (await fetch(`${survivor.url}/metrics`)).text()).toContain('# TYPE');
    await waitFor(async () => (await consumersOf(namespace, 'storage')) >= 2, 30_000, () => 'the two workers did not subscribe');

    // One profile on each of the two partitions: each worker reads one of them (key affinity).
    const profiles = [0, 1].map((partition) => Array.from({ length: 20 }, (_, n) => `killed-worker-${String(n)}`).find((profile) => partitionOfKey(profile, 2) === partition)!);
    const ids = new Map<string, string[]>(profiles.map((profile) => [profile, []]));
    for (let request = 0; request < 60; request += 1) {
      const profile = profiles[request % 2]!;
      const batch = [`k${String(request)}-a`, `k${String(request)}-b`, `k${String(request)}-c`];
      expect(await track(sluice.url, profile, batch)).toBe(200);
      ids.get(profile)!.push(...batch);
    }
    // Both workers now hold messages unacknowledged in their partial batches.
    doomed.kill('SIGKILL');
    for (const [profile, sent] of ids) {
      await waitFor(async () => (await profileEventIds(sluice.url, profile)).length >= sent.length, 30_000, () => `${profile}: the killed worker's messages were not stored by the other one`);
      const stored = await profileEventIds(sluice.url, profile);
      expect(new Set(stored).size).toBe(stored.length);
      expect(new Set(stored)).toEqual(new Set(sent));
    }
    expect(survivor.child.exitCode).toBeNull();
  });

  it('replicas create no namespace or topic: a worker started first waits, not ready; `sluice init` creates them and the dead letters\' subscription; then API and worker store on Elasticsearch with their roles', async () => {
    const es = engineEnv('elasticsearch');
    const { dir, cleanup } = await tempDir('sluice-pulsar-es-');
    const namespace = randomName('roles-');
    const tenant = randomName('pr');
    const web = pulsar['PULSAR_WEB_HOST']!;
    cleanups.push(cleanup, async () => {
      await fetch(`${web}/admin/v2/namespaces/public/${namespace}?force=true`, { method: 'DELETE' }).catch(() => undefined);
      const store = new ElasticStore({ nodes: [es['ELASTIC_HOST']!], username: es['ELASTIC_HTTP_AUTH_USERNAME']!, password: es['ELASTIC_HTTP_AUTH_PASSWORD']!, caFile: es['ELASTIC_CA_FILE']!, verifyCerts: true, maxConnections: 1, requestTimeoutMs: 30_000, compression: false, prefix: `${tenant}-`, shards: 1, replicas: 0, refreshInterval: '1s' });
      await store.dropAll();
      await store.close();
    });
    const env = {
      ...es, DATA_DIR: dir, ADMIN_TOKEN, LOGGING_LEVEL: 'warning', STORAGE_FLUSH_INTERVAL: '200', STORE_ADAPTER: 'elasticsearch', TENANT_NAME: tenant, ELASTIC_INDEX_REPLICAS: '0',
      BUS_ADAPTER: 'pulsar', PULSAR_WEB_HOST: web, PULSAR_NAMESPACE: namespace, PULSAR_TOPIC_PARTITIONS: '2',
    };
    const worker = await startSluice('worker', { ...env, ELASTIC_HTTP_AUTH_USERNAME: es['SLUICE_WRITER_USERNAME']! }, 60_000);
    processes.push(worker);
    await waitFor(async () => (await readiness(worker.url, ADMIN_TOKEN)).body.dependencies['init']?.error?.includes(`Pulsar: namespace public/${namespace}`) === true, 10_000, () => `the worker did not say what is missing:\n${worker.output()}`);
    expect((await readiness(worker.url)).status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await fetch(`${web}/admin/v2/namespaces/public/${namespace}/topics`)).status).toBe(404);

    const init = await runSluice(['init'], { ...env, ELASTIC_HTTP_AUTH_USERNAME: es['SLUICE_INIT_USERNAME']! });
    expect(init.code).toBe(0);
    expect(init.output).toContain(`pulsar: subscription dlq-replay on dead-letters (from the earliest message)`);
    const subscriptions = (await (await fetch(`${web}/admin/v2/persistent/public/${namespace}/dead-letters/subscriptions`)).json()) as string[];
    expect(subscriptions).toEqual(['dlq-replay']);
    await waitFor(async () => (await readiness(worker.url)).status === 200, 20_000, () => `the worker did not become ready after init:\n${worker.output()}`);

    const api = await startSluice('api', { ...env, ELASTIC_HTTP_AUTH_USERNAME: es['SLUICE_READER_USERNAME']! }, 60_000);
    processes.push(api);
    expect((await readiness(api.url)).status).toBe(200);
    expect(await track(api.url, 'roles-profile', ['r-1', 'r-2'])).toBe(200);
    await waitFor(async () => (await profileEventIds(api.url, 'roles-profile')).length === 2, 15_000, () => `events did not reach Elasticsearch:\n${worker.output()}`);
  });
});
