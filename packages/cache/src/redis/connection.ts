import type { RedisOptions } from 'ioredis';

/** Where the cache's Redis is and how to reach it, from configuration. */
export interface RedisConnectionConfig {
  /**
   * `redis://[user:password@]host:port[/db]`, `rediss://` for TLS. With `sentinels`, only
   * its scheme (TLS to the primary and replicas), credentials and db number are used: the
   * host comes from the sentinels.
   */
  readonly url: string;
  /** AUTH password; overrides one in `url`. */
  readonly password?: string | undefined;
  /** Redis Sentinel: the sentinels to ask for the primary, and the name they monitor it under. */
  readonly sentinel?: { readonly sentinels: readonly { readonly host: string; readonly port: number }[]; readonly masterName: string } | undefined;
}

/** How long to wait for a TCP connection (and its AUTH/SELECT) before retrying, ms. */
const CONNECT_TIMEOUT_MS = 2000;
/** Longest wait for a socket to end on close, ms. */
const DISCONNECT_TIMEOUT_MS = 500;
/** Reconnect backoff: 100 ms more per attempt, at most this, ms. Reconnects never stop. */
const MAX_RECONNECT_DELAY_MS = 2000;

/** The parts of a `redis://` / `rediss://` URL ioredis needs. */
export function parseRedisUrl(url: string): { host: string; port: number; db: number; tls: boolean; username?: string; password?: string } {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\/+/, '');
  const username = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  return {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port === '' ? 6379 : Number(parsed.port),
    db: db === '' ? 0 : Number(db),
    tls: parsed.protocol === 'rediss:',
    ...(username === '' ? {} : { username }),
    ...(password === '' ? {} : { password }),
  };
}

/**
 * ioredis options shared by every Sluice connection to the cache's Redis: where to connect
 * (directly or through Sentinel), credentials, db and TLS, and reconnection without end. The
 * request-path settings (timeouts, queueing, pipelining) are the caller's.
 */
export function redisConnectionOptions(config: RedisConnectionConfig): RedisOptions {
  const url = parseRedisUrl(config.url);
  const password = config.password ?? url.password;
  const common: RedisOptions = {
    db: url.db,
    ...(url.username === undefined ? {} : { username: url.username }),
    ...(password === undefined ? {} : { password }),
    ...(url.tls ? { tls: {} } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    // How long a closing socket may take to end before it is destroyed. ioredis arms this
    // timer even for a socket that already closed (a connection retrying), keeping the
    // process alive that long after close().
    disconnectTimeout: DISCONNECT_TIMEOUT_MS,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  };
  if (config.sentinel === undefined) return { ...common, host: url.host, port: url.port };
  return {
    ...common,
    sentinels: config.sentinel.sentinels.map(({ host, port }) => ({ host, port })),
    name: config.sentinel.masterName,
    role: 'master',
    // Sentinels are asked again and again during a failover; never give up on them.
    sentinelRetryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    // Subscribe to +switch-master on the sentinels: reconnect to the new primary as soon as
    // a failover is announced, not only when the old one stops answering.
    failoverDetector: true,
    ...(url.tls ? { enableTLSForSentinelMode: true } : {}),
  };
}

/** "host:port,host:port" → sentinel addresses; the caller has validated the list. */
export function parseSentinels(list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '').map((entry) => {
    const at = entry.lastIndexOf(':');
    return { host: entry.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(entry.slice(at + 1)) };
  });
}
