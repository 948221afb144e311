import type { BacklogReader, OutputName } from '../port.ts';

export interface PulsarBacklogOptions {
  /** The broker's web service (admin REST), e.g. http://127.0.0.1:8080. */
  readonly webServiceUrl: string;
  readonly authToken?: string;
  readonly tenant: string;
  readonly namespace: string;
  readonly topics: Readonly<Record<OutputName, string>>;
  /** Shortest time between two reads of one topic's stats, ms (a scrape in between gets the last figures). */
  readonly minIntervalMs?: number;
  /** Longest wait for one stats call, ms. */
  readonly timeoutMs?: number;
}

/** What one read of a topic's stats left. */
interface TopicStats {
  readonly readAt: number;
  /** msgBacklog by subscription; undefined when the read failed. */
  readonly backlogs: ReadonlyMap<string, number> | undefined;
}

const DEFAULT_MIN_INTERVAL_MS = 5000;
const DEFAULT_TIMEOUT_MS = 2000;

/**
 * Subscription backlogs from Pulsar's admin stats (`msgBacklog`), for the backlog gauge.
 * It needs admin (or at least stats) rights on the namespace, which a worker's token may not
 * have: a 401 or 403 turns it off for the life of the process (the gauge is then absent),
 * and any other failure only leaves that topic's figures unknown until the next read.
 * Reads run at scrape time, at most one per topic every `minIntervalMs`, each bounded by
 * `timeoutMs`: they never touch the producers or consumers.
 *
 * The partitioned events topic answers `partitioned-stats` (summed over partitions); a
 * non-partitioned topic (the dead letters) answers 404 there, and `stats` is used for it.
 */
export class PulsarAdminBacklog implements BacklogReader {
  private readonly stats = new Map<string, TopicStats>();
  private readonly reading = new Map<string, Promise<TopicStats>>();
  /** Topics known not to be partitioned. */
  private readonly plainTopics = new Set<string>();
  private forbidden = false;
  private readonly options: PulsarBacklogOptions;

  constructor(options: PulsarBacklogOptions) {
    this.options = options;
  }

  /** False once the admin API refused this process's credentials. */
  get enabled(): boolean {
    return !this.forbidden;
  }

  async backlog(output: OutputName, subscription: string): Promise<number | undefined> {
    if (this.forbidden) return undefined;
    const topic = this.options.topics[output];
    const last = this.stats.get(topic);
    const fresh = last !== undefined && Date.now() - last.readAt < (this.options.minIntervalMs ?? DEFAULT_MIN_INTERVAL_MS);
    const stats = fresh ? last : await this.read(topic);
    return stats.backlogs?.get(subscription);
  }

  /** One read of `topic`'s stats at a time; its outcome (figures or a failure) is kept for minIntervalMs. */
  private read(topic: string): Promise<TopicStats> {
    let pending = this.reading.get(topic);
    if (pending === undefined) {
      pending = this.fetchBacklogs(topic)
        .catch(() => undefined)
        .then((backlogs) => {
          const stats = { readAt: Date.now(), backlogs };
          this.stats.set(topic, stats);
          return stats;
        })
        .finally(() => this.reading.delete(topic));
      this.reading.set(topic, pending);
    }
    return pending;
  }

  private async fetchBacklogs(topic: string): Promise<ReadonlyMap<string, number> | undefined> {
    const base = `${this.options.webServiceUrl.replace(/\/$/, '')}/admin/v2/persistent/${this.options.tenant}/${this.options.namespace}/${topic}`;
    let response: Response | undefined;
    if (!this.plainTopics.has(topic)) {
      response = await this.get(`${base}/partitioned-stats?perPartition=false`);
      if (response.status === 404) {
        await response.body?.cancel();
        this.plainTopics.add(topic);
        response = undefined;
      }
    }
    response ??= await this.get(`${base}/stats`);
    if (response.status === 401 || response.status === 403) this.forbidden = true;
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const body = (await response.json()) as { subscriptions?: Record<string, { msgBacklog?: unknown }> };
    const backlogs = new Map<string, number>();
    for (const [name, stats] of Object.entries(body.subscriptions ?? {})) if (typeof stats.msgBacklog === 'number') backlogs.set(name, stats.msgBacklog);
    return backlogs;
  }

  private get(url: string): Promise<Response> {
    const headers: Record<string, string> = this.options.authToken ? { authorization: `Bearer ${this.options.authToken}` } : {};
    return fetch(url, { headers, signal: AbortSignal.timeout(this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS) });
  }
}
