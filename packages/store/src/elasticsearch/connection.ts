import { readFileSync } from 'node:fs';
import { Client } from '@elastic/elasticsearch';
import type { LifecycleSettings } from './lifecycle.ts';
import type { StoreNames } from './names.ts';

export interface ElasticStoreOptions {
  readonly nodes: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly apiKey?: string;
  /** PEM file of the CA that signed the cluster's HTTP certificate. */
  readonly caFile?: string;
  readonly verifyCerts: boolean;
  readonly maxConnections: number;
  readonly requestTimeoutMs: number;
  readonly compression: boolean;
  /** Prefix of every index, alias and template name (TENANT_NAME, plus "-"). */
  readonly prefix: string;
  readonly shards: number;
  readonly replicas: number;
  /** Index refresh interval, e.g. "1s". */
  readonly refreshInterval: string;
  /** Make writes visible to searches before they return (tests; costs up to one refresh). */
  readonly refreshOnWrite?: boolean;
  /** The events lifecycle; absent: `off` (the write index is never rolled over). */
  readonly lifecycle?: LifecycleSettings;
  /** Snapshots of Sluice's indices; absent: none. */
  readonly snapshots?: SnapshotSettings;
}

/** Snapshots of Sluice's indices (ELASTIC_SNAPSHOT_*). */
export interface SnapshotSettings {
  readonly repository: string;
  /** `existing`: registered by the operator; `fs`/`s3`: registered by init with `location`. */
  readonly type: 'existing' | 'fs' | 's3';
  readonly location?: string;
  readonly intervalMs: number;
  /** Most recent successful snapshots kept. */
  readonly keep: number;
}

/** What every part of the Elasticsearch store shares: the client, the names, the write refresh. */
export interface ElasticContext {
  readonly client: Client;
  readonly names: StoreNames;
  readonly options: ElasticStoreOptions;
  /** `refresh` of every write request. */
  readonly refresh: 'wait_for' | false;
}

/**
 * The client (8.x: it speaks to Elasticsearch 8 and, through the compatibility header, 9).
 * The transport retries on another node after a connection error or a 502/503/504 (a node
 * down must not fail a request the others can serve); every write is idempotent. Timeouts
 * are not retried here: the storage worker retries those with backoff.
 */
export function createClient(options: ElasticStoreOptions): Client {
  const auth = options.apiKey ? { apiKey: options.apiKey } : options.username ? { username: options.username, password: options.password ?? '' } : undefined;
  return new Client({
    nodes: [...options.nodes],
    ...(auth ? { auth } : {}),
    tls: { ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}), rejectUnauthorized: options.verifyCerts },
    compression: options.compression,
    requestTimeout: options.requestTimeoutMs,
    maxRetries: Math.max(0, options.nodes.length - 1) + 1,
    agent: { connections: options.maxConnections },
  });
}
