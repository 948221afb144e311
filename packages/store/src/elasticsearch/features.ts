import { errors } from '@elastic/elasticsearch';
import { SluiceError } from '@sluice/core';
import type { ElasticContext } from './connection.ts';
import { storeError } from './errors.ts';

export type LifecycleRunner = 'ilm' | 'sluice' | 'off';
export type SnapshotRunner = 'slm' | 'sluice' | 'off';

/**
 * Who runs the events lifecycle and who takes snapshots, decided once per process from the
 * configuration and what the cluster has (the minimal distribution has neither ILM nor SLM:
 * their endpoints do not exist there).
 */
export class ClusterFeatures {
  private lifecycle: Promise<LifecycleRunner> | undefined;
  private snapshots: Promise<SnapshotRunner> | undefined;
  private readonly context: ElasticContext;

  constructor(context: ElasticContext) {
    this.context = context;
  }

  /** ILM where asked for (or, with `auto`, where the cluster has it); else Sluice's own job. */
  lifecycleRunner(): Promise<LifecycleRunner> {
    this.lifecycle ??= this.detectLifecycle().catch((error: unknown) => {
      this.lifecycle = undefined;
      throw error;
    });
    return this.lifecycle;
  }

  /** SLM where the cluster has it, else Sluice's snapshot job; `off` without snapshot settings. */
  snapshotRunner(): Promise<SnapshotRunner> {
    this.snapshots ??= this.detectSnapshots().catch((error: unknown) => {
      this.snapshots = undefined;
      throw error;
    });
    return this.snapshots;
  }

  private async detectLifecycle(): Promise<LifecycleRunner> {
    const mode = this.context.options.lifecycle?.mode ?? 'off';
    if (mode === 'off' || mode === 'sluice') return mode;
    if (await this.has(() => this.context.client.ilm.getStatus())) return 'ilm';
    if (mode === 'ilm') throw new SluiceError('CONFIG_INVALID', 'ELASTIC_LIFECYCLE=ilm but this cluster has no ILM (use auto or sluice)');
    return 'sluice';
  }

  private async detectSnapshots(): Promise<SnapshotRunner> {
    if (this.context.options.snapshots === undefined) return 'off';
    return (await this.has(() => this.context.client.slm.getStatus())) ? 'slm' : 'sluice';
  }

  /**
   * True when the endpoint answers; false when the cluster answers that it has no such
   * endpoint or will not show it (a 4xx); an outage (no answer, 408, 429, 5xx) is thrown, so
   * that it is not mistaken for a missing feature and remembered.
   */
  private async has(probe: () => Promise<unknown>): Promise<boolean> {
    try {
      await probe();
      return true;
    } catch (error) {
      const status = error instanceof errors.ResponseError ? error.statusCode ?? 500 : 500;
      if (status < 500 && status !== 408 && status !== 429) return false;
      throw storeError(error);
    }
  }
}
