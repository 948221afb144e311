import { readFileSync } from 'node:fs';
import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2';
import { SluiceError } from '@sluice/core';

/** How to reach MySQL and size the pool (config's `configStore.mysql` slice, in ms). */
export interface MysqlPoolSettings {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly username: string;
  readonly password: string | undefined;
  /** Connections kept open (idle included). */
  readonly poolSize: number;
  /** Extra connections under load, closed once idle OVERFLOW_IDLE_MS. */
  readonly maxOverflow: number;
  /** Longest wait for a connection (free or newly opened), ms; then POOL_TIMEOUT. */
  readonly poolTimeoutMs: number;
  /** Longest life of a connection, ms: an older one is closed instead of handed out. */
  readonly recycleMs: number;
  /** Longest a query may take, ms; then its connection is closed and the call fails (CONFIG_UNAVAILABLE). */
  readonly queryTimeoutMs: number;
  readonly tls: { readonly enabled: boolean; readonly caFile: string | undefined; readonly verify: boolean };
}

/** What the pool reports to metrics as it works. */
export interface PoolObserver {
  acquired(seconds: number): void;
  timedOut(): void;
  recycled(): void;
}

/** A moment's figures of the pool. */
export interface PoolStats {
  /** Connections open (in use and idle). */
  readonly open: number;
  /** Connections handed out and not yet given back. */
  readonly inUse: number;
  /** Open connections waiting in the pool. */
  readonly idle: number;
  /** Callers waiting for a connection. */
  readonly waiting: number;
  readonly timeouts: number;
  readonly recycled: number;
}

/** Idle time after which connections beyond MYSQL_POOL_SIZE are closed, ms. */
const OVERFLOW_IDLE_MS = 10_000;

/**
 * mysql2's pool with what it lacks: an acquire timeout (a caller waits at most
 * `poolTimeoutMs` for a connection, then gets POOL_TIMEOUT; the connection it would have got
 * goes back to the pool when it comes), a connection lifetime (a connection older than
 * `recycleMs` is closed when it would be handed out, and a fresh one opened), a timeout on
 * every query, and figures for metrics. Size: `poolSize` kept, `maxOverflow` more under
 * load (SQLAlchemy's pool_size / max_overflow, Tracardi's names).
 *
 * It has the callback interface Kysely's MysqlDialect takes (getConnection, end).
 */
export class TunedMysqlPool {
  private readonly pool: Pool;
  private readonly settings: MysqlPoolSettings;
  private readonly observer: PoolObserver | undefined;
  private readonly bornAt = new WeakMap<PoolConnection, number>();
  private readonly wrapped = new WeakMap<PoolConnection, PoolConnection>();
  private inUse = 0;
  private waiting = 0;
  private timeouts = 0;
  private recycledCount = 0;

  constructor(settings: MysqlPoolSettings, observer?: PoolObserver) {
    this.settings = settings;
    this.observer = observer;
    this.pool = createPool(poolOptions(settings));
    this.pool.on('connection', (connection) => this.bornAt.set(connection, Date.now()));
  }

  /** Kysely's entry point: a connection within `poolTimeoutMs`, not older than `recycleMs`. */
  getConnection(callback: (error: Error | null, connection: PoolConnection) => void): void {
    this.acquire().then(
      (connection) => callback(null, connection),
      (error: unknown) => callback(error instanceof Error ? error : new Error(String(error)), undefined as unknown as PoolConnection),
    );
  }

  end(callback: (error: unknown) => void): void {
    this.pool.end((error) => callback(error ?? null));
  }

  stats(): PoolStats {
    // mysql2 exposes no counts; its queues are read where present (figures only, never logic).
    const internals = this.pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number } };
    const open = internals._allConnections?.length ?? this.inUse;
    return { open, inUse: this.inUse, idle: internals._freeConnections?.length ?? Math.max(0, open - this.inUse), waiting: this.waiting, timeouts: this.timeouts, recycled: this.recycledCount };
  }

  private async acquire(): Promise<PoolConnection> {
    const started = performance.now();
    const deadline = Date.now() + this.settings.poolTimeoutMs;
    for (;;) {
      const connection = await this.acquireBefore(deadline);
      const born = this.bornAt.get(connection) ?? Date.now();
      if (Date.now() - born < this.settings.recycleMs) {
        this.inUse += 1;
        this.observer?.acquired((performance.now() - started) / 1000);
        return this.withQueryTimeout(connection);
      }
      // Too old: closed (mysql2 drops a destroyed connection from the pool), a fresh one taken.
      this.recycledCount += 1;
      this.observer?.recycled();
      connection.destroy();
    }
  }

  /** One connection from mysql2's pool, or POOL_TIMEOUT at `deadline` (a late one is released at once). */
  private acquireBefore(deadline: number): Promise<PoolConnection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      this.waiting += 1;
      const timer = setTimeout(() => {
        settled = true;
        this.waiting -= 1;
        this.timeouts += 1;
        this.observer?.timedOut();
        reject(new SluiceError('POOL_TIMEOUT', `no MySQL connection within ${String(this.settings.poolTimeoutMs)} ms (MYSQL_POOL_TIMEOUT): all ${String(this.settings.poolSize + this.settings.maxOverflow)} busy or the server does not answer`));
      }, Math.max(0, deadline - Date.now()));
      this.pool.getConnection((error, connection) => {
        if (settled) {
          if (error === null) connection.release();
          return;
        }
        settled = true;
        clearTimeout(timer);
        this.waiting -= 1;
        if (error !== null) reject(error);
        else resolve(connection);
      });
    });
  }

  /**
   * The connection as Kysely sees it: every query carries the query timeout, and giving it
   * back (release, destroy) is counted. One wrapper per connection (Kysely keys its state by it).
   */
  private withQueryTimeout(connection: PoolConnection): PoolConnection {
    let wrapper = this.wrapped.get(connection);
    if (wrapper !== undefined) return wrapper;
    const timeout = this.settings.queryTimeoutMs;
    const giveBack = (action: () => void) => {
      this.inUse = Math.max(0, this.inUse - 1);
      action();
    };
    wrapper = new Proxy(connection, {
      get: (target, property, receiver) => {
        if (property === 'query') {
          return (sql: string, values: unknown, callback: (error: unknown, result: unknown) => void) => target.query({ sql, values: values as never, timeout }, callback as never);
        }
        if (property === 'release') return () => giveBack(() => target.release());
        if (property === 'destroy') return () => giveBack(() => target.destroy());
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    this.wrapped.set(connection, wrapper);
    return wrapper;
  }
}

function poolOptions(settings: MysqlPoolSettings): PoolOptions {
  const { tls } = settings;
  return {
    host: settings.host,
    port: settings.port,
    database: settings.database,
    user: settings.username,
    ...(settings.password === undefined ? {} : { password: settings.password }),
    connectionLimit: settings.poolSize + settings.maxOverflow,
    // Connections beyond poolSize close once idle: SQLAlchemy's overflow.
    maxIdle: settings.poolSize,
    idleTimeout: OVERFLOW_IDLE_MS,
    // A new connection is part of the wait for one.
    connectTimeout: settings.poolTimeoutMs,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    charset: 'utf8mb4_bin',
    // JSON columns are text; dates are kept as ISO strings by the store.
    dateStrings: true,
    supportBigNumbers: true,
    ...(tls.enabled ? { ssl: { rejectUnauthorized: tls.verify, ...(tls.caFile === undefined ? {} : { ca: readFileSync(tls.caFile, 'utf8') }) } } : {}),
  };
}
