import type { estypes } from '@elastic/elasticsearch';
import { SluiceError } from '@sluice/core';
import type { ElasticContext } from './connection.ts';
import { isErrorType, request, storeError } from './errors.ts';
import type { ClusterFeatures } from './features.ts';
import { ilmPolicy } from './lifecycle.ts';
import { eventsMappings, profileMappings, profileMergeMappings, sessionMappings } from './mappings.ts';
import { provisionSnapshots } from './snapshots.ts';

/**
 * Creates or updates the ILM policy (where ILM runs the lifecycle) and the index template,
 * creates the first events index behind its write alias, the profiles, sessions and
 * profile merges indices,
 * puts the current mappings on the indices that existed already (the events write index,
 * profiles, sessions: how an upgrade's new field or raised `depth_limit` reaches the live
 * indices; the template only shapes new ones), and the snapshot repository and SLM policy.
 * Idempotent; safe from several processes at once (an index another process just created
 * counts as done). Returns what it did.
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
  else done.push(...(await updateMappings(context, names.eventsAlias, eventsMappings())));
  for (const [index, mappings] of [[names.profiles, profileMappings()], [names.sessions, sessionMappings()], [names.profileMerges, profileMergeMappings()]] as const) {
    if (await createIndex(context, index, { settings, mappings })) done.push(`index ${index}`);
    else done.push(...(await updateMappings(context, index, mappings)));
  }
  done.push(...(await provisionSnapshots(context, features)));
  return done;
}

/**
 * Puts `mappings` on an existing index (through an alias: on its write index only; older
 * generations are read-only and keep theirs). Elasticsearch merges them: new fields are
 * added and updatable parameters (`depth_limit`, `ignore_above`…) changed; a change it
 * cannot make in place (a field's type) is a permanent STORE_REJECTED error naming the
 * index and, in Elasticsearch's reason, the field — such a change needs a new index (a
 * rollover picks the template up) or a reindex. Reports a line only when the mappings changed.
 */
async function updateMappings(context: ElasticContext, target: string, mappings: estypes.MappingTypeMapping): Promise<string[]> {
  const { client } = context;
  const read = async () => JSON.stringify(Object.values(await request(() => client.indices.getMapping({ index: target }))).map((index) => index.mappings));
  const before = await read();
  try {
    await client.indices.putMapping({ index: target, write_index_only: true, ...mappings });
  } catch (error) {
    const failure = storeError(error);
    if (failure.retryable) throw failure;
    throw new SluiceError('STORE_REJECTED', `the current mappings cannot be put on ${target} in place (${failure.message}); a type change needs a new index: roll the events over, or reindex`, { cause: error });
  }
  return (await read()) === before ? [] : [`mappings of ${target} updated`];
}

/**
 * What the API, workers and jobs need and `sluice init` creates, when it is not there: the
 * events write alias, the profiles, sessions and profile merges indices. Reads only (view_index_metadata):
 * replicas call it at start instead of provisioning. Empty: all there.
 */
export async function unprovisioned(context: ElasticContext): Promise<string[]> {
  const { client, names } = context;
  const missing: string[] = [];
  if (!(await request(() => client.indices.existsAlias({ name: names.eventsAlias })))) missing.push(`the events write alias ${names.eventsAlias}`);
  for (const index of [names.profiles, names.sessions, names.profileMerges]) if (!(await request(() => client.indices.exists({ index })))) missing.push(`the index ${index}`);
  return missing;
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
  const existing = Object.keys(await request(() => client.indices.get({ index: [names.eventsPattern, names.profiles, names.sessions, names.profileMerges], ignore_unavailable: true, allow_no_indices: true })));
  if (existing.length > 0) await request(() => client.indices.delete({ index: existing }));
  await client.indices.deleteIndexTemplate({ name: names.template }).catch(() => undefined);
  await client.ilm.deleteLifecycle({ name: names.policy }).catch(() => undefined);
}
