import type { estypes } from '@elastic/elasticsearch';
import type { ElasticContext } from './connection.ts';
import { isErrorType, request, storeError } from './errors.ts';
import type { ClusterFeatures } from './features.ts';
import { ilmPolicy } from './lifecycle.ts';
import { eventsMappings, profileMappings, sessionMappings } from './mappings.ts';
import { provisionSnapshots } from './snapshots.ts';

/**
 * Creates or updates the ILM policy (where ILM runs the lifecycle) and the index template,
 * creates the first events index behind its write alias, the profiles and sessions indices,
 * and the snapshot repository and SLM policy. Idempotent; safe from several processes at
 * once (an index another process just created counts as done). Returns what it did.
 */
export async function provision(context: ElasticContext, features: ClusterFeatures): Promise<string[]> {
  const { client, names, options } = context;
  const done: string[] = [];
  const settings = { number_of_shards: options.shards, number_of_replicas: options.replicas, refresh_interval: options.refreshInterval };
  const runner = await features.lifecycleRunner();
  let lifecycleSettings = {};
  if (runner === 'ilm' && options.lifecycle) {
    const policy = ilmPolicy(options.lifecycle);
    await request(() => client.ilm.putLifecycle({ name: names.policy, policy }));
    done.push(`ILM policy ${names.policy}`);
    lifecycleSettings = { 'index.lifecycle.name': names.policy, 'index.lifecycle.rollover_alias': names.eventsAlias };
  }
  await request(() => client.indices.putIndexTemplate({ name: names.template, index_patterns: [names.eventsPattern], priority: 200, template: { settings: { ...settings, ...lifecycleSettings }, mappings: eventsMappings() }, _meta: { managed_by: 'sluice', lifecycle: runner } }));
  done.push(`index template ${names.template} (lifecycle: ${runner})`);
  if (!(await request(() => client.indices.existsAlias({ name: names.eventsAlias })))) {
    if (await createIndex(context, names.firstEventsIndex, { aliases: { [names.eventsAlias]: { is_write_index: true } } })) done.push(`index ${names.firstEventsIndex} (write alias ${names.eventsAlias})`);
  }
  for (const [index, mappings] of [[names.profiles, profileMappings()], [names.sessions, sessionMappings()]] as const) {
    if (await createIndex(context, index, { settings, mappings })) done.push(`index ${index}`);
  }
  done.push(...(await provisionSnapshots(context, features)));
  return done;
}

/** False when the index exists already. */
async function createIndex(context: ElasticContext, index: string, body: Omit<estypes.IndicesCreateRequest, 'index'>): Promise<boolean> {
  try {
    await context.client.indices.create({ index, ...body });
    return true;
  } catch (error) {
    if (isErrorType(error, 'resource_already_exists_exception')) return false;
    throw storeError(error);
  }
}

/** Deletes every index, template and policy of this prefix (tests, teardown tooling). */
export async function dropAll(context: ElasticContext): Promise<void> {
  const { client, names } = context;
  // Deletes need concrete names (action.destructive_requires_name): resolve the pattern first.
  const existing = Object.keys(await request(() => client.indices.get({ index: [names.eventsPattern, names.profiles, names.sessions], ignore_unavailable: true, allow_no_indices: true })));
  if (existing.length > 0) await request(() => client.indices.delete({ index: existing }));
  await client.indices.deleteIndexTemplate({ name: names.template }).catch(() => undefined);
  await client.ilm.deleteLifecycle({ name: names.policy }).catch(() => undefined);
}
