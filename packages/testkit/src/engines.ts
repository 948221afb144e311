import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from './process.ts';

/** Names of the engines `npm run engines:up` provisions (scripts/engines). */
export type EngineName = 'elasticsearch' | 'elasticsearch-cluster' | 'pulsar' | 'redis' | 'redis-sentinel' | 'mariadb';

/**
 * The environment that points Sluice at a running engine, as `engines:up` wrote it
 * (`.engines/<name>.env`). Throws with the command to run when the engine is not up.
 */
export function engineEnv(name: EngineName): Record<string, string> {
  const dir = resolve(process.env['SLUICE_ENGINES_DIR'] ?? join(REPO_ROOT, '.engines'));
  const file = join(dir, `${name}.env`);
  if (!existsSync(file)) throw new Error(`${name} is not up: run \`npm run engines:up -- ${name}\``);
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0 && !line.startsWith('#')) env[line.slice(0, at)] = line.slice(at + 1);
  }
  return env;
}

/** Runs `npm run engines:<command> -- <names>` (scripts/engines) and waits; throws with its output on failure. */
export function runEngines(command: 'up' | 'down', names: readonly EngineName[]): void {
  const result = spawnSync(process.execPath, ['--use-system-ca', join(REPO_ROOT, 'scripts/engines/engines.ts'), command, ...names], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`engines ${command} ${names.join(' ')} failed:\n${result.stderr}`);
}

/** SIGKILLs one node of a running engine (its whole process group), as a crash would. */
export function killEngineNode(name: EngineName, node: string): void {
  const dir = resolve(process.env['SLUICE_ENGINES_DIR'] ?? join(REPO_ROOT, '.engines'));
  const pid = Number(readFileSync(join(dir, name, `${node}.pid`), 'utf8').trim());
  process.kill(-pid, 'SIGKILL');
}

/** Resident memory of a process in bytes (Linux /proc). */
export function residentBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

/**
 * A request to the secured Elasticsearch node that `engines:up` started, as its superuser,
 * with its CA: the parsed answer (undefined when empty). For test setup and cleanup, not for
 * what Sluice itself does.
 */
export function elasticAsSuperuser(method: string, path: string, body?: unknown): Promise<unknown> {
  const es = engineEnv('elasticsearch');
  const auth = `Basic ${Buffer.from(`${es['ELASTIC_HTTP_AUTH_USERNAME']!}:${es['ELASTIC_HTTP_AUTH_PASSWORD']!}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${es['ELASTIC_HOST']!}${path}`, { method, ca: readFileSync(es['ELASTIC_CA_FILE']!), headers: { authorization: auth, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve(text === '' ? undefined : (JSON.parse(text) as unknown)));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
