// Shared plumbing of the engine provisioning: where things live, verified downloads,
// detached processes with pid files, readiness polling. Only Node's standard library.
import { spawn, spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, statSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, closeSync, renameSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Runtime state (data, logs, pid files, env files); removed by `engines:down --purge`. */
export const STATE_DIR = resolve(process.env.SLUICE_ENGINES_DIR ?? join(REPO_ROOT, '.engines'));
/** Downloads and builds, shared by every clone on the machine. */
export const CACHE_DIR = resolve(process.env.SLUICE_ENGINES_CACHE ?? defaultCacheDir());
export const MAVEN_CENTRAL = 'https://repo1.maven.org/maven2';
/** Engines that refuse to run as root (Elasticsearch) run as this system user. */
export const ENGINE_USER = 'sluice-engines';

/**
 * Root's home is private, and the Elasticsearch distribution must be readable by the engine
 * user: as root the cache lives under /var/cache.
 */
function defaultCacheDir(): string {
  if (process.getuid?.() === 0) return '/var/cache/sluice-engines';
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sluice-engines');
}

/** True when every directory down to `path` lets other users through. */
export function traversableByOthers(path: string): boolean {
  let current = resolve(path);
  for (;;) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * State of engines that run as ENGINE_USER: under STATE_DIR when that user can reach it,
 * else in a directory of /var/lib named after STATE_DIR.
 */
export function engineUserDir(name: string): string {
  if (traversableByOthers(STATE_DIR)) return join(STATE_DIR, name);
  const key = createHash('sha1').update(STATE_DIR).digest('hex').slice(0, 10);
  return join('/var/lib/sluice-engines', key, name);
}

export type Env = Record<string, string>;

export interface Status {
  readonly running: boolean;
  readonly detail: string;
  /** Resident memory of the engine's processes, bytes. */
  readonly rssBytes?: number;
}

export interface Engine {
  readonly name: string;
  readonly description: string;
  /** Download/build/install what is missing; cached and verified. */
  install(): Promise<void>;
  /** Start when not running (idempotent); resolves once the engine answers. */
  up(): Promise<void>;
  /** Stop every process of the engine (idempotent). */
  down(): Promise<void>;
  status(): Promise<Status>;
  /** The environment that points Sluice at this engine. */
  env(): Env;
}

export function log(message: string): void {
  process.stderr.write(`[engines] ${message}\n`);
}

export function ensureDir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

export function engineDir(name: string): string {
  return join(STATE_DIR, name);
}

/** Runs a command to completion; throws with its output when it fails. */
export function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (result.error) throw new Error(`${command}: ${result.error.message}`);
  if (result.status !== 0) {
    const output = `${String(result.stdout ?? '')}${String(result.stderr ?? '')}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${command} ${args.join(' ')} exited with ${String(result.status)}:\n${output}`);
  }
  return String(result.stdout ?? '');
}

/** Like `run`, without blocking the event loop (long installs run side by side). */
export function runAsync(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    const output: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk));
    child.on('error', (error) => reject(new Error(`${command}: ${error.message}`)));
    child.on('close', (code) => {
      const text = Buffer.concat(output).toString('utf8');
      if (code === 0) resolvePromise(text);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${String(code)}:\n${text.trim().split('\n').slice(-20).join('\n')}`));
    });
  });
}

export function which(command: string): string | undefined {
  const result = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const path = result.stdout.trim();
  return result.status === 0 && path !== '' ? path : undefined;
}

export async function sha(path: string, algorithm: 'sha1' | 'sha512'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads a Maven Central artifact once, verified against the published SHA-512 (else SHA-1). */
export async function downloadVerified(url: string, target: string): Promise<string> {
  if (existsSync(target) && existsSync(`${target}.verified`)) return target;
  ensureDir(dirname(target));
  let algorithm: 'sha1' | 'sha512' = 'sha512';
  let sums = await fetch(`${url}.sha512`);
  if (!sums.ok) {
    algorithm = 'sha1';
    sums = await fetch(`${url}.sha1`);
  }
  if (!sums.ok) throw new Error(`no checksum published for ${url} (HTTP ${String(sums.status)})`);
  const expected = (await sums.text()).trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  log(`downloading ${url}`);
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`GET ${url}: HTTP ${String(response.status)}`);
  const partial = `${target}.part`;
  writeFileSync(partial, Buffer.from(await response.arrayBuffer()));
  const actual = await sha(partial, algorithm);
  if (actual !== expected) {
    rmSync(partial, { force: true });
    throw new Error(`${algorithm} mismatch for ${url}: expected ${expected}, got ${actual}`);
  }
  renameSync(partial, target);
  writeFileSync(`${target}.verified`, `${algorithm} ${actual}\n`);
  return target;
}

let aptQueue: Promise<void> = Promise.resolve();

/** Installs Debian packages that are missing (needs root, as on these machines); one apt at a time. */
export function aptInstall(packages: readonly string[]): Promise<void> {
  const next = aptQueue.then(() => aptInstallNow(packages));
  aptQueue = next.catch(() => undefined);
  return next;
}

async function aptInstallNow(packages: readonly string[]): Promise<void> {
  const missing = packages.filter((name) => spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' }).stdout.includes('install ok installed') === false);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`missing Debian packages ${missing.join(', ')}: run as root, or install them: apt-get install ${missing.join(' ')}`);
  log(`apt-get install ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runAsync('apt-get', ['update', '-qq'], { env });
  await runAsync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

export function ensureEngineUser(): { uid: number; gid: number } {
  const lookup = () => spawnSync('id', ['-u', ENGINE_USER], { encoding: 'utf8' });
  if (lookup().status !== 0) run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ENGINE_USER]);
  const uid = Number(run('id', ['-u', ENGINE_USER]).trim());
  const gid = Number(run('id', ['-g', ENGINE_USER]).trim());
  return { uid, gid };
}

export interface DetachedOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly uid?: number;
  readonly gid?: number;
}

/** Starts a process in its own process group, output to `logFile`, pid to `pidFile`. */
export function startDetached(command: string, args: readonly string[], pidFile: string, logFile: string, options: DetachedOptions = {}): number {
  ensureDir(dirname(logFile));
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out], cwd: options.cwd, env: options.env ?? process.env, uid: options.uid, gid: options.gid });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  child.unref();
  writeFileSync(pidFile, `${String(child.pid)}\n`);
  return child.pid;
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie still answers signal 0; its state in /proc tells.
  try {
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${String(pid)}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Every pid in the process group `pgid` (the detached leader and all it spawned). */
export function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

export function rssOfGroup(pgid: number): number {
  let total = 0;
  for (const pid of groupPids(pgid)) {
    try {
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
      if (match?.[1] !== undefined) total += Number(match[1]) * 1024;
    } catch {
      // Gone.
    }
  }
  return total;
}

/** SIGTERM to the whole process group, then SIGKILL after `graceMs`; removes the pid file. */
export async function stopGroup(pidFile: string, graceMs = 20_000): Promise<void> {
  const pid = readPid(pidFile);
  if (pid !== undefined) {
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pid, name);
      } catch {
        // Already gone.
      }
    };
    signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while (groupPids(pid).length > 0 && Date.now() < deadline) await sleep(200);
    if (groupPids(pid).length > 0) {
      signal('SIGKILL');
      while (groupPids(pid).length > 0) await sleep(100);
    }
  }
  rmSync(pidFile, { force: true });
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolvePromise(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Polls `check` until it returns true; fails with the tail of `logFile` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile?: string, pid?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not yet.
    }
    const died = pid !== undefined && !alive(pid);
    if (died || Date.now() > deadline) {
      const tail = logFile !== undefined && existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-25).join('\n') : '';
      throw new Error(`${what} ${died ? 'exited' : `did not become ready within ${String(timeoutMs / 1000)} s`}${tail ? `; last log lines:\n${tail}` : ''}`);
    }
    await sleep(500);
  }
}

export function writeEnvFile(name: string, env: Env): void {
  const body = Object.entries(env).map(([key, value]) => `${key}=${value}`).join('\n');
  writeFileSync(join(ensureDir(STATE_DIR), `${name}.env`), `${body}\n`);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${String(Math.round(bytes / 1024 ** 2))} MiB`;
}
