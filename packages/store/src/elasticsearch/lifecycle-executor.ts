import type { MaintenanceReport } from '../port.ts';
import type { ElasticContext } from './connection.ts';
import { isErrorType, isNotFound, request, storeError } from './errors.ts';
import type { ClusterFeatures } from './features.ts';
import { TIER_PREFERENCE, planLifecycle, rolloverConditions, type EventsIndexState, type LifecycleAction, type LifecycleSettings } from './lifecycle.ts';

/** The events indices as they are now (any order). */
export async function readEventsIndices(context: ElasticContext): Promise<EventsIndexState[]> {
  const { client, names } = context;
  const indices = await request(() => client.indices.get({ index: names.eventsPattern, features: ['aliases', 'settings'], flat_settings: true, allow_no_indices: true, ignore_unavailable: true }));
  return Object.entries(indices).map(([name, index]) => {
    const settings = (index.settings ?? {}) as Record<string, string | undefined>;
    return {
      name,
      createdAt: Number(settings['index.creation_date'] ?? 0),
      isWriteIndex: index.aliases?.[names.eventsAlias]?.is_write_index === true,
      tierPreference: settings['index.routing.allocation.include._tier_preference'],
      writeBlocked: settings['index.blocks.write'] === 'true',
    };
  });
}

/**
 * Sluice's lifecycle pass where the cluster has no ILM (planLifecycle decides, this applies):
 * rollover of the write index on the configured conditions, then warm (read-only, tier
 * preference, forcemerge), cold, delete. An index's age is the time since its rollover, so
 * retention follows when events were received (they go to the write index of that moment),
 * never the client's `time`. A no-op where ILM runs or the lifecycle is off.
 */
export async function runLifecyclePass(context: ElasticContext, features: ClusterFeatures, now: Date): Promise<MaintenanceReport> {
  const lifecycle = context.options.lifecycle;
  if (lifecycle === undefined || (await features.lifecycleRunner()) !== 'sluice') return { actions: [] };
  const actions: string[] = [];
  for (const action of planLifecycle(await readEventsIndices(context), now.getTime(), lifecycle)) {
    const done = await apply(context, action, lifecycle);
    if (done !== undefined) actions.push(done);
  }
  return { actions };
}

/** One planned action; every one is idempotent (what another replica's pass did first counts as done). */
async function apply(context: ElasticContext, action: LifecycleAction, lifecycle: LifecycleSettings): Promise<string | undefined> {
  const { client, names } = context;
  const index = action.index;
  switch (action.kind) {
    case 'rollover': {
      try {
        const result = await client.indices.rollover({ alias: names.eventsAlias, new_index: action.next, conditions: rolloverConditions(lifecycle) });
        return result.rolled_over ? `rolled ${index} over to ${action.next}` : undefined;
      } catch (error) {
        if (isErrorType(error, 'resource_already_exists_exception')) return undefined;
        throw storeError(error);
      }
    }
    case 'warm': {
      await request(() => client.indices.putSettings({ index, settings: { 'index.blocks.write': true, 'index.routing.allocation.include._tier_preference': TIER_PREFERENCE.warm } }));
      if (lifecycle.forcemergeSegments > 0) await request(() => client.indices.forcemerge({ index, max_num_segments: lifecycle.forcemergeSegments, wait_for_completion: false }));
      return `moved ${index} to warm${lifecycle.forcemergeSegments > 0 ? ` (force-merge to ${String(lifecycle.forcemergeSegments)} segments started)` : ''}`;
    }
    case 'cold':
      await request(() => client.indices.putSettings({ index, settings: { 'index.blocks.write': true, 'index.routing.allocation.include._tier_preference': TIER_PREFERENCE.cold } }));
      return `moved ${index} to cold`;
    case 'delete':
      try {
        await client.indices.delete({ index });
        return `deleted ${index}`;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw storeError(error);
      }
  }
}
