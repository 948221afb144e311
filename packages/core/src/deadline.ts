import { TaskCancelledError, TimeoutStrategy, timeout, type TimeoutPolicy } from 'cockatiel';

/** One policy per duration, built once (the request path calls this for every /track). */
const policies = new Map<number, TimeoutPolicy>();

/**
 * The one timeout policy (cockatiel's, aggressive): settles with `work`, or rejects with
 * `onTimeout()` once `timeoutMs` milliseconds passed. The work itself goes on unless it
 * heeds `signal` (aborted at the deadline); a rejection it makes later is absorbed.
 */
export async function withTimeout<T>(timeoutMs: number, work: (signal: AbortSignal) => PromiseLike<T>, onTimeout: () => Error): Promise<T> {
  try {
    let policy = policies.get(timeoutMs);
    if (policy === undefined) {
      policy = timeout(timeoutMs, TimeoutStrategy.Aggressive);
      policies.set(timeoutMs, policy); // durations come from configuration: a handful
    }
    return await policy.execute((context) => work(context.signal));
  } catch (error) {
    if (error instanceof TaskCancelledError) throw onTimeout();
    throw error;
  }
}
