import type { Logger } from 'pino';
import { withTimeout } from '@sluice/core';

export interface ShutdownStep {
  readonly name: string;
  run(): Promise<void> | void;
}

/**
 * Ordered shutdown: steps run one after the other in the order added (stop accepting →
 * drain → flush → close engines). Every step runs even when an earlier one fails or
 * times out; calling `run()` twice returns the same promise.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<void> | undefined;

  private readonly logger: Logger;
  private readonly stepTimeoutMs: number;

  constructor(logger: Logger, stepTimeoutMs: number) {
    this.logger = logger;
    this.stepTimeoutMs = stepTimeoutMs;
  }

  add(name: string, run: () => Promise<void> | void): this {
    this.steps.push({ name, run });
    return this;
  }

  get started(): boolean {
    return this.running !== undefined;
  }

  run(): Promise<void> {
    this.running ??= this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<void> {
    for (const step of this.steps) {
      const started = Date.now();
      try {
        await withTimeout(this.stepTimeoutMs, async () => step.run(), () => new Error(`shutdown step "${step.name}" timed out after ${this.stepTimeoutMs} ms`));
        this.logger.info({ step: step.name, ms: Date.now() - started }, 'shutdown step done');
      } catch (error) {
        this.logger.error({ step: step.name, err: error }, 'shutdown step failed; continuing');
      }
    }
  }
}

/** Runs `shutdown` on SIGTERM and SIGINT, then exits (0, or 1 when `shutdown` threw). */
export function exitOnSignals(shutdown: Shutdown, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.warn({ signal }, 'shutting down');
    shutdown.run().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
