import { SluiceError } from '@sluice/core';

export interface PulsarNamespacePlan {
  readonly webServiceUrl: string;
  readonly authToken?: string;
  readonly tenant: string;
  readonly namespace: string;
  readonly cluster: string;
  /** The partitioned topic of the events output, and its partitions. */
  readonly eventsTopic: string;
  readonly partitions: number;
  /** Other topics, created non-partitioned (dead letters). */
  readonly otherTopics: readonly string[];
  readonly retentionMinutes: number;
  readonly retentionSizeMb: number;
  /**
   * Durable subscriptions created from the earliest message, so that what a topic holds is
   * kept by the subscription's backlog (not only by retention) until someone reads it: the
   * dead letters' `dlq-replay`.
   */
  readonly subscriptions?: readonly { readonly topic: string; readonly name: string }[];
}

export interface BootstrapReport {
  /** What was created or changed, in order (`check` mode: nothing). */
  readonly changed: string[];
  /** `check` mode: what a replica needs that is not there, one line each (empty: all there). */
  readonly missing: string[];
}

/**
 * `create` (`sluice init`, the all-in-one): creates or updates everything. `check` (API,
 * worker and jobs replicas): changes nothing and reports what is missing — tenant,
 * namespace, topics, subscriptions; retention and quota are init's business.
 */
export type BootstrapMode = 'create' | 'check';

/**
 * Creates or updates, through the admin REST API, everything Sluice's topics need:
 * tenant, namespace, retention, a backlog quota that fits inside it, the partitioned
 * events topic, the other topics and the subscriptions of the plan. Idempotent, and safe
 * when several processes run it at once (409 = already there). An existing partitioned
 * topic keeps its partition count. In `check` mode it only reads (see BootstrapMode).
 */
export async function bootstrapPulsarNamespace(plan: PulsarNamespacePlan, mode: BootstrapMode = 'create'): Promise<BootstrapReport> {
  const changed: string[] = [];
  const base = plan.webServiceUrl.replace(/\/$/, '');
  const call = async (method: string, path: string, body?: unknown): Promise<Response> => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (plan.authToken) headers.authorization = `Bearer ${plan.authToken}`;
    try {
      return await fetch(`${base}/admin/v2${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      throw new SluiceError('BUS_UNAVAILABLE', `Pulsar admin API at ${base} is unreachable: ${(error as Error).message}`, { cause: error });
    }
  };
  const expect = async (response: Response, what: string, ok: readonly number[]): Promise<void> => {
    if (ok.includes(response.status)) return;
    const text = (await response.text()).slice(0, 500);
    throw new SluiceError('BUS_UNAVAILABLE', `Pulsar admin API: ${what} answered HTTP ${String(response.status)} ${text}`);
  };
  const ns = `${plan.tenant}/${plan.namespace}`;
  if (mode === 'check') return { changed, missing: await missingOf(plan, call, expect) };

  const tenant = await call('GET', `/tenants/${plan.tenant}`);
  if (tenant.status === 404) {
    const created = await call('PUT', `/tenants/${plan.tenant}`, { adminRoles: [], allowedClusters: [plan.cluster] });
    await expect(created, `create tenant ${plan.tenant}`, [204, 409]);
    if (created.status === 204) changed.push(`tenant ${plan.tenant}`);
  } else await expect(tenant, `read tenant ${plan.tenant}`, [200]);

  const namespace = await call('PUT', `/namespaces/${ns}`);
  await expect(namespace, `create namespace ${ns}`, [204, 409]);
  if (namespace.status === 204) changed.push(`namespace ${ns}`);

  const retention = { retentionTimeInMinutes: plan.retentionMinutes, retentionSizeInMB: plan.retentionSizeMb };
  const current = await call('GET', `/namespaces/${ns}/retention`);
  const text = current.status === 200 ? await current.text() : '';
  const now = text.trim() === '' ? null : (JSON.parse(text) as Partial<typeof retention> | null);
  if (now?.retentionTimeInMinutes !== retention.retentionTimeInMinutes || now.retentionSizeInMB !== retention.retentionSizeInMB) {
    // Retention must be at least the backlog quota: the quota first when shrinking, last when growing.
    const setQuota = async () => plan.retentionSizeMb > 0 && expect(await call('POST', `/namespaces/${ns}/backlogQuota?backlogQuotaType=destination_storage`, backlogQuota(plan)), `set backlog quota of ${ns}`, [204]);
    const setRetention = async () => expect(await call('POST', `/namespaces/${ns}/retention`, retention), `set retention of ${ns}`, [204]);
    const shrinking = (now?.retentionSizeInMB ?? 0) > plan.retentionSizeMb;
    if (shrinking) {
      await setQuota();
      await setRetention();
    } else {
      await setRetention();
      await setQuota();
    }
    changed.push(`retention ${String(plan.retentionMinutes)} min / ${String(plan.retentionSizeMb)} MB, backlog quota ${String(backlogQuota(plan).limitSize)} bytes`);
  }

  const partitioned = await call('PUT', `/persistent/${ns}/${plan.eventsTopic}/partitions`, plan.partitions);
  await expect(partitioned, `create partitioned topic ${plan.eventsTopic}`, [204, 409]);
  if (partitioned.status === 204) changed.push(`topic ${plan.eventsTopic} (${String(plan.partitions)} partitions)`);
  for (const topic of plan.otherTopics) {
    const created = await call('PUT', `/persistent/${ns}/${topic}`);
    await expect(created, `create topic ${topic}`, [204, 409]);
    if (created.status === 204) changed.push(`topic ${topic}`);
  }
  for (const subscription of plan.subscriptions ?? []) {
    const created = await call('PUT', `/persistent/${ns}/${subscription.topic}/subscription/${subscription.name}`, EARLIEST);
    await expect(created, `create subscription ${subscription.name} on ${subscription.topic}`, [204, 409]);
    if (created.status === 204) changed.push(`subscription ${subscription.name} on ${subscription.topic} (from the earliest message)`);
  }
  return { changed, missing: [] };
}

/** Pulsar's `MessageId.earliest`: a subscription created at it starts with what the topic holds. */
const EARLIEST = { ledgerId: -1, entryId: -1, partitionIndex: -1 };

type AdminCall = (method: string, path: string, body?: unknown) => Promise<Response>;
type Expect = (response: Response, what: string, ok: readonly number[]) => Promise<void>;

/** What a replica needs and is not there, reading only (the admin API's 404s and topic metadata). */
async function missingOf(plan: PulsarNamespacePlan, call: AdminCall, expect: Expect): Promise<string[]> {
  const ns = `${plan.tenant}/${plan.namespace}`;
  const namespace = await call('GET', `/namespaces/${ns}/topics`);
  // A missing tenant or namespace answers 404 (then nothing below it exists either).
  if (namespace.status === 404) return [`namespace ${ns}`];
  await expect(namespace, `list the topics of ${ns}`, [200]);
  const missing: string[] = [];
  // A missing topic answers 404; a non-partitioned one has 0 partitions (not Sluice's either).
  const events = await call('GET', `/persistent/${ns}/${plan.eventsTopic}/partitions`);
  if (events.status !== 404) await expect(events, `read topic ${plan.eventsTopic}`, [200]);
  if (events.status === 404 || ((await events.json()) as { partitions?: number }).partitions === 0) missing.push(`partitioned topic ${ns}/${plan.eventsTopic}`);
  const wanted = new Map<string, string[]>(plan.otherTopics.map((topic) => [topic, []]));
  for (const subscription of plan.subscriptions ?? []) wanted.set(subscription.topic, [...(wanted.get(subscription.topic) ?? []), subscription.name]);
  for (const [topic, subscriptions] of wanted) {
    const listed = await call('GET', `/persistent/${ns}/${topic}/subscriptions`);
    if (listed.status === 404) {
      missing.push(`topic ${ns}/${topic}`);
      continue;
    }
    await expect(listed, `read the subscriptions of ${topic}`, [200]);
    const present = (await listed.json()) as string[];
    for (const name of subscriptions) if (!present.includes(name)) missing.push(`subscription ${name} on ${ns}/${topic}`);
  }
  return missing;
}

/**
 * Producers wait (rather than lose or evict messages) once a topic's backlog reaches 90 % of
 * the retention size: Pulsar wants the quota strictly below retention.
 */
export function backlogQuota(plan: Pick<PulsarNamespacePlan, 'retentionSizeMb'>): { limitSize: number; policy: string } {
  return { limitSize: Math.floor(plan.retentionSizeMb * 1024 * 1024 * 0.9), policy: 'producer_request_hold' };
}
