import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolObserver, TunedMysqlPool } from './tuned-pool.ts';

/**
 * The MySQL pool's metrics in `registry`: connections in use and idle, callers waiting (read
 * when scraped), acquire time, acquire timeouts and recycled connections. Returns the
 * observer to give the pool; `attach` points the scrape-time gauges at the pool once built.
 * A registry that already has them (a second store in one process) keeps the first pool's.
 */
export function registerPoolMetrics(registry: Registry): PoolObserver & { attach(pool: TunedMysqlPool): void } {
  let pool: TunedMysqlPool | undefined;
  const existing = registry.getSingleMetric('sluice_mysql_pool_connections');
  const registers = existing === undefined ? [registry] : [];
  new Gauge({
    name: 'sluice_mysql_pool_connections',
    help: 'MySQL config store connections of this process, by state (in_use, idle).',
    labelNames: ['state'] as const,
    registers,
    collect() {
      const stats = pool?.stats();
      this.set({ state: 'in_use' }, stats?.inUse ?? 0);
      this.set({ state: 'idle' }, stats?.idle ?? 0);
    },
  });
  new Gauge({
    name: 'sluice_mysql_pool_waiting',
    help: 'Callers waiting for a MySQL connection.',
    registers,
    collect() {
      this.set(pool?.stats().waiting ?? 0);
    },
  });
  const acquire = new Histogram({ name: 'sluice_mysql_pool_acquire_seconds', help: 'Time to get a MySQL connection from the pool (opening one included).', buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3], registers });
  const timeouts = new Counter({ name: 'sluice_mysql_pool_timeouts_total', help: 'Waits for a MySQL connection that ended with POOL_TIMEOUT (MYSQL_POOL_TIMEOUT).', registers });
  const recycled = new Counter({ name: 'sluice_mysql_pool_recycled_total', help: 'MySQL connections closed for being older than MYSQL_POOL_RECYCLE.', registers });
  return {
    attach: (built) => {
      pool ??= built;
    },
    acquired: (seconds) => acquire.observe(seconds),
    timedOut: () => timeouts.inc(),
    recycled: () => recycled.inc(),
  };
}
