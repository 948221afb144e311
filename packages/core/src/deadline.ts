/**
 * The one timeout policy: settles with `work`, or rejects with `onTimeout()` once
 * `timeoutMs` milliseconds passed (the work goes on; a rejection it makes later is
 * absorbed). One timer per call, cleared as soon as the work settles. (cockatiel's
 * TimeoutPolicy did the same with an AbortController per call, whose abort reason — a
 * DOMException — alone cost 5 % of /track's CPU.)
 */
export function withTimeout<T>(timeoutMs: number, work: () => PromiseLike<T>, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    Promise.resolve(work()).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
