// The HTTP baseline the benchmarks share: a bare fastify route (bare-server.ts) that only
// parses the JSON body, in a process of its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, waitFor } from '@sluice/testkit';

export interface BareRoute {
  /** Its base URL; the route is POST /track. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the bare route; `ownSession` starts it in a session of its own (setsid), as startSluice's option does. */
export async function startBare(options: { ownSession?: boolean } = {}): Promise<BareRoute> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['benchmarks/bare-server.ts', String(port)], { stdio: 'ignore', detached: options.ownSession === true });
  const url = `http://127.0.0.1:${String(port)}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(async () => (await fetch(`${url}/track`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined))?.ok === true, 15_000);
  } catch (error) {
    await stop(); // in a session of its own it would outlive the bench
    throw error;
  }
  return { url, stop };
}
