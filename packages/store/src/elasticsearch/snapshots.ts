import type { estypes } from '@elastic/elasticsearch';
import type { MaintenanceReport } from '../port.ts';
import type { ElasticContext, SnapshotSettings } from './connection.ts';
import { isErrorType, isNotFound, request, storeError } from './errors.ts';
import type { ClusterFeatures } from './features.ts';
import { esTime } from './lifecycle.ts';
import type { StoreNames } from './names.ts';

/** Every day at 01:30 (and more often for shorter intervals), as SLM's cron schedules want it. */
export function slmSchedule(intervalMs: number): string {
  const minutes = Math.max(1, Math.round(intervalMs / 60_000));
  if (minutes < 60) return `0 0/${String(minutes)} * * * ?`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `0 0 0/${String(hours)} * * ?`;
  return '0 30 1 * * ?';
}

/** The SLM policy that snapshots Sluice's indices where the cluster has SLM. */
export function slmPolicy(names: Pick<StoreNames, 'snapshotPolicy' | 'snapshotPrefix' | 'allIndices'>, snapshots: SnapshotSettings): estypes.SlmPutLifecycleRequest {
  return {
    policy_id: names.snapshotPolicy,
    schedule: slmSchedule(snapshots.intervalMs),
    name: `<${names.snapshotPrefix}{now/d}-{now{HHmmss}}>`,
    repository: snapshots.repository,
    config: { indices: [names.allIndices], include_global_state: false },
    // Keep the last `keep`; an older one also expires after `keep + 1` intervals.
    retention: { min_count: 1, max_count: snapshots.keep, expire_after: esTime(snapshots.intervalMs * (snapshots.keep + 1)) },
  };
}

/** Registers the snapshot repository (fs, s3; checks an `existing` one) and, where the cluster has SLM, its policy. */
export async function provisionSnapshots(context: ElasticContext, features: ClusterFeatures): Promise<string[]> {
  const { client, names } = context;
  const snapshots = context.options.snapshots;
  if (snapshots === undefined) return [];
  const done: string[] = [];
  if (snapshots.type !== 'existing') {
    const settings = snapshots.type === 'fs' ? { location: snapshots.location ?? '', compress: true } : { bucket: snapshots.location ?? '' };
    await request(() => client.snapshot.createRepository({ name: snapshots.repository, repository: { type: snapshots.type, settings } as estypes.SnapshotRepository }));
    done.push(`snapshot repository ${snapshots.repository} (${snapshots.type} ${snapshots.location ?? ''})`);
  } else {
    await request(() => client.snapshot.getRepository({ name: snapshots.repository }));
  }
  if ((await features.snapshotRunner()) === 'slm') {
    await request(() => client.slm.putLifecycle(slmPolicy(names, snapshots)));
    done.push(`SLM policy ${names.snapshotPolicy}`);
  }
  return done;
}

/**
 * One snapshot of every index of this prefix (events, profiles, sessions), waited for;
 * then the oldest successful snapshots beyond `keep` are deleted. An empty report where
 * snapshots are off or SLM takes them.
 */
export async function takeSnapshot(context: ElasticContext, features: ClusterFeatures, now: Date): Promise<MaintenanceReport> {
  const { client, names } = context;
  const snapshots = context.options.snapshots;
  if (snapshots === undefined || (await features.snapshotRunner()) !== 'sluice') return { actions: [] };
  const name = `${names.snapshotPrefix}${now.toISOString().replace(/[-:.]/g, '').toLowerCase()}`;
  const actions: string[] = [];
  try {
    const taken = await client.snapshot.create({ repository: snapshots.repository, snapshot: name, indices: names.allIndices, include_global_state: false, wait_for_completion: true });
    actions.push(`snapshot ${name}: ${taken.snapshot?.state ?? 'taken'} (${String(taken.snapshot?.shards?.successful ?? 0)} shards)`);
  } catch (error) {
    // Another replica's job took the snapshot of this instant: done.
    if (!isErrorType(error, 'invalid_snapshot_name_exception')) throw storeError(error);
  }
  const all = await request(() => client.snapshot.get({ repository: snapshots.repository, snapshot: `${names.snapshotPrefix}*`, ignore_unavailable: true }));
  const successful = all.snapshots?.filter((snapshot) => snapshot.state === 'SUCCESS').sort((a, b) => (a.start_time_in_millis ?? 0) - (b.start_time_in_millis ?? 0)) ?? [];
  const expired = successful.slice(0, Math.max(0, successful.length - snapshots.keep)).map((snapshot) => snapshot.snapshot);
  if (expired.length > 0) {
    try {
      await client.snapshot.delete({ repository: snapshots.repository, snapshot: expired.join(',') });
    } catch (error) {
      if (!isNotFound(error)) throw storeError(error);
    }
    actions.push(`deleted snapshots ${expired.join(', ')}`);
  }
  return { actions };
}
