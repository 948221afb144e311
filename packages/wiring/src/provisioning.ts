import { setTimeout as sleep } from 'node:timers/promises';
import { bootstrapPulsarNamespace } from '@sluice/bus';
import type { Config } from '@sluice/config';
import { SluiceError, backoffDelayMs } from '@sluice/core';
import type { DependencyHealth, HealthCheck, Logger } from '@sluice/observability';
import type { StoreProvisioner } from '@sluice/store';
import { mysqlConfigStore } from './adapters.ts';
import { elasticStore } from './elastic.ts';
import type { Runtime } from './runtime.ts';

// Provisioning apart (docs/architecture.md, "Provisioning"): `sluice init` creates what the
// production engines need, with its own privileges; the API, worker and jobs replicas only
// check that it is there. The all-in-one `sluice start` provisions what it uses itself.

/**
 * The subscription `sluice dlq` reads the dead letters with (apps/jobs `DEAD_LETTER_SUBSCRIPTION`;
 * a test keeps the two equal). Init creates it from the earliest message, so dead letters
 * are kept by its backlog, not only by retention, until they are replayed or dropped.
 */
export const DEAD_LETTERS_SUBSCRIPTION = 'dlq-replay';

/**
 * `sluice init` (and the all-in-one): creates or updates what the configured engines need —
 * Elasticsearch templates, ILM/SLM policies, the write alias, first indices, the current
 * mappings on existing indices, the snapshot repository; Pulsar's tenant, namespace,
 * policies, topics and the dead letters' subscription. Idempotent, safe from several
 * processes at once. Returns what it did, one line each.
 */
export async function initEngines(config: Config, logger: Logger): Promise<string[]> {
  const done: string[] = [];
  if (config.adapters.store === 'elasticsearch') {
    const store = elasticStore(config);
    try {
      done.push(...(await provisionWithin(store, STORE_STARTUP_WAIT_MS, logger)).map((line) => `elasticsearch: ${line}`));
    } finally {
      await store.close();
    }
  }
  if (config.adapters.bus === 'pulsar') done.push(...(await pulsarNamespace(config, 'create')).changed.map((line) => `pulsar: ${line}`));
  if (config.adapters.config === 'mysql') done.push(...(await migrateMysql(config, logger)).map((line) => `mysql: ${line}`));
  if (done.length === 0 && config.adapters.store === 'embedded' && config.adapters.bus === 'embedded' && config.adapters.config === 'embedded') done.push('embedded adapters: nothing to create (their files are created under DATA_DIR at start)');
  return done;
}

/** How long `sluice init` waits for an unreachable Elasticsearch before it gives up (exit ≠ 0). */
const STORE_STARTUP_WAIT_MS = 60_000;

/** Runs the store's idempotent provisioning, retrying with backoff while the cluster cannot answer. */
async function provisionWithin(store: StoreProvisioner, waitMs: number, logger: Logger): Promise<string[]> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await store.provision();
    } catch (error) {
      if (!(error instanceof SluiceError) || !error.retryable || Date.now() >= deadline) throw error;
      logger.warn({ err: error, attempt }, 'Elasticsearch is not reachable yet; retrying');
      await sleep(backoffDelayMs({ baseDelayMs: 250, maxDelayMs: 5000 }, attempt));
    }
  }
}

/**
 * The config store's migrations on MySQL (forward only; several processes at once are safe:
 * Kysely's Migrator holds a MySQL lock). Waits for an unreachable server at most
 * CONFIG_START_TIMEOUT, retrying with backoff.
 */
async function migrateMysql(config: Config, logger: Logger): Promise<string[]> {
  const store = mysqlConfigStore(config);
  const deadline = Date.now() + config.configStore.startTimeoutMs;
  try {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const ran = await store.migrate();
        return ran.length === 0 ? ['schema up to date'] : ran.map((name) => `ran migration ${name}`);
      } catch (error) {
        if (!(error instanceof SluiceError) || !error.retryable || Date.now() >= deadline) throw error;
        logger.warn({ err: error, attempt }, 'MySQL is not reachable yet; retrying');
        await sleep(backoffDelayMs({ baseDelayMs: 250, maxDelayMs: 5000 }, attempt));
      }
    }
  } finally {
    await store.close();
  }
}

/** Pulsar's tenant, namespace, policies, topics and subscriptions: created (`create`) or checked (`check`). */
function pulsarNamespace(config: Config, mode: 'create' | 'check'): ReturnType<typeof bootstrapPulsarNamespace> {
  const pulsar = config.pulsar;
  return bootstrapPulsarNamespace({
    webServiceUrl: pulsar.webHost,
    ...(pulsar.authToken === undefined ? {} : { authToken: pulsar.authToken }),
    tenant: pulsar.tenant,
    namespace: pulsar.namespace,
    cluster: pulsar.cluster,
    eventsTopic: config.bus.topics.events,
    partitions: pulsar.topicPartitions,
    otherTopics: [config.bus.topics.deadLetters],
    retentionMinutes: pulsar.retentionMinutes,
    retentionSizeMb: pulsar.retentionSizeMb,
    subscriptions: [{ topic: config.bus.topics.deadLetters, name: DEAD_LETTERS_SUBSCRIPTION }],
  }, mode);
}

/**
 * What a replica (API, worker, jobs) needs from `sluice init` and does not find: the events
 * write alias, profiles, sessions and profile-merges indices; the Pulsar namespace, topics and the dead
 * letters' subscription. Reads only. Empty: provisioned (or nothing to provision: embedded).
 * Throws a retryable SluiceError when an engine cannot be asked.
 */
export async function unprovisioned(config: Config): Promise<string[]> {
  const missing: string[] = [];
  if (config.adapters.store === 'elasticsearch') {
    const store = elasticStore(config);
    try {
      missing.push(...(await store.unprovisioned()).map((line) => `Elasticsearch: ${line}`));
    } finally {
      await store.close();
    }
  }
  if (config.adapters.bus === 'pulsar') missing.push(...(await pulsarNamespace(config, 'check')).missing.map((line) => `Pulsar: ${line}`));
  return missing;
}

/**
 * A replica's wait for `sluice init`, as its /readyz check `init` (see ProvisioningGate):
 * true once provisioned, false when shutdown began first (then start nothing).
 */
export function waitForInit(runtime: Runtime, checks: Record<string, HealthCheck>): Promise<boolean> {
  const gate = new ProvisioningGate(runtime.config, runtime.logger);
  checks['init'] = gate;
  runtime.shutdown.add('init: stop waiting', () => gate.stop());
  return gate.wait();
}

/** How often a waiting replica repeats its warning, in milliseconds. */
const WARN_EVERY_MS = 30_000;
/** Checks back off from 0.5 s to at most 5 s apart while init has not run. */
const CHECK_BACKOFF = { baseDelayMs: 500, maxDelayMs: 5000 };

/**
 * A replica's start: waits until `sluice init` has provisioned what it needs. Decision
 * (docs/architecture.md, "Provisioning"): wait, rather than exit, so that on Kubernetes a
 * replica started before (or while) the init job runs does not crash-loop into
 * CrashLoopBackOff's growing delays; it stays alive (/healthz 200) and not ready (/readyz
 * 503, this check failing with what is missing and the `sluice init` to run), logs one
 * warning line naming `sluice init` every 30 s, and starts within seconds of init's end.
 * An engine that cannot be asked is waited for the same way. A forgotten init therefore
 * shows as replicas that never become ready (the rollout's progress deadline), with the
 * reason in their logs and, for admin-token holders, in /readyz.
 */
export class ProvisioningGate implements HealthCheck {
  private state: { readonly ok: boolean; readonly missing: readonly string[]; readonly error?: string } = { ok: false, missing: [], error: 'not checked yet' };
  private readonly stopping = new AbortController();
  private readonly config: Config;
  private readonly logger: Logger;
  private readonly check: (config: Config) => Promise<string[]>;

  constructor(config: Config, logger: Logger, check: (config: Config) => Promise<string[]> = unprovisioned) {
    this.config = config;
    this.logger = logger;
    this.check = check;
  }

  /** One check, nothing logged: true when provisioned (then `wait()` returns at once). */
  async isProvisioned(): Promise<boolean> {
    return (await this.probe()) === undefined;
  }

  /** Resolves true once provisioned; false when `stop()` was called first (shutdown). */
  async wait(): Promise<boolean> {
    let warnedAt = 0;
    let lastReason = '';
    for (let attempt = 0; !this.stopping.signal.aborted; attempt += 1) {
      const reason = await this.probe();
      if (reason === undefined) {
        if (lastReason !== '') this.logger.warn('sluice init has run: starting');
        return true;
      }
      if (reason !== lastReason || Date.now() - warnedAt >= WARN_EVERY_MS) {
        this.logger.warn(reason);
        warnedAt = Date.now();
        lastReason = reason;
      }
      await sleep(backoffDelayMs(CHECK_BACKOFF, attempt), undefined, { signal: this.stopping.signal }).catch(() => undefined);
    }
    return false;
  }

  /** Stops waiting (shutdown); idempotent. */
  stop(): void {
    this.stopping.abort();
  }

  async health(): Promise<DependencyHealth> {
    const { ok, missing, error } = this.state;
    return { ok, adapter: 'sluice init', detail: { missing: missing.length }, ...(error === undefined ? {} : { error }) };
  }

  /** One check; the line to log when not provisioned, undefined when provisioned. */
  private async probe(): Promise<string | undefined> {
    try {
      const missing = await this.check(this.config);
      if (missing.length === 0) {
        this.state = { ok: true, missing };
        return undefined;
      }
      const error = `not provisioned: ${missing.join('; ')} — run \`sluice init\` (with the init role) first; waiting, not ready until then`;
      this.state = { ok: false, missing, error };
      return error;
    } catch (failure) {
      const error = `cannot check what \`sluice init\` provisions: ${failure instanceof Error ? failure.message : String(failure)}; retrying, not ready until then`;
      this.state = { ok: false, missing: [], error };
      return error;
    }
  }
}
