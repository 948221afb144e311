import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

/** The repository root: tests and benchmarks run from it (npm scripts set the cwd). */
export const REPO_ROOT = resolve(process.cwd());

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface SluiceProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL, and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, and wait for the exit code. */
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /**
   * Starts it in a session of its own (setsid), as a separate machine or container would run
   * it. Linux's autogroup scheduling gives each session one share of the cores, so processes
   * started in this one's session would compete for the cores as one process against each
   * engine. Such a child is not signalled with this process's group (Ctrl-C): stop it.
   */
  readonly ownSession?: boolean;
}

/** Starts `sluice <command>` with `env` on Node (this process's binary) and waits for /healthz. */
export async function startSluice(command: string, env: Record<string, string>, timeoutMs = 30_000, options: StartOptions = {}): Promise<SluiceProcess> {
  const port = env['PORT'] ?? String(await freePort());
  const child = spawn(process.execPath, ['apps/cli/src/bin.ts', command], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownSession === true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit((exitCode = code))));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (exitCode !== undefined) throw new Error(`sluice exited with ${String(exitCode)} before it was healthy:\n${output}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok === true;
    }, timeoutMs, () => `sluice did not start:\n${output}`);
  } catch (error) {
    // Not left running: in a session of its own it would outlive this process.
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  return {
    child,
    url,
    output: () => output,
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` every 50 ms until it is true, or throws `describe()` after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, describe: () => string = () => 'condition not met'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
}

/** Runs a one-shot `sluice <args…>` (init, dlq …) with `env` and waits: its exit code and output. */
export function runSluice(args: readonly string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['apps/cli/src/bin.ts', ...args], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => resolveRun({ code, output }));
  });
}

/** GET /readyz: its status and body (each dependency's detail and error with the admin token). */
export async function readiness(url: string, adminToken?: string): Promise<{ status: number; body: { ready: boolean; dependencies: Record<string, { ok: boolean; adapter: string; detail?: Record<string, unknown>; error?: string }> } }> {
  const response = await fetch(`${url}/readyz`, adminToken === undefined ? {} : { headers: { authorization: `Bearer ${adminToken}` } });
  return { status: response.status, body: (await response.json()) as never };
}
