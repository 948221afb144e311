// The HTTP load generator every benchmark shares: wrk (C, epoll; from Debian, installed when
// missing), as it leaves the most CPU to the servers on a machine it shares with them.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aptInstall } from '../scripts/engines/lib.ts';

/** One wrk run: rate in requests/s, latencies in ms, counts in requests. */
export interface WrkFigures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Requests answered, of any status. */
  requests: number;
  non2xx: number;
  /** Socket errors: connect, read, write and timeout. */
  errors: number;
}

export interface WrkRun {
  connections: number;
  seconds: number;
}

/** wrk on PATH, and a directory for its Lua scripts; `close()` removes the directory. */
export async function openWrk(): Promise<{ post: (url: string, body: string, run: WrkRun) => Promise<WrkFigures>; close: () => Promise<void> }> {
  await aptInstall(['wrk']);
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-wrk-'));
  let runs = 0;
  return {
    /** POSTs `body` as JSON to `url` (the full URL, path included) on every connection. */
    async post(url, body, run) {
      runs += 1;
      const bodyFile = join(dir, `body-${String(runs)}.json`);
      const script = join(dir, `post-${String(runs)}.lua`);
      await writeFile(bodyFile, body);
      await writeFile(script, `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nlocal f = io.open("${bodyFile}", "r")\nwrk.body = f:read("*a")\nf:close()\n`);
      return parseWrk(execFileSync('wrk', ['-t1', `-c${String(run.connections)}`, `-d${String(run.seconds)}s`, '--latency', '-s', script, url], { encoding: 'utf8' }));
    },
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The figures of wrk's `--latency` report. */
export function parseWrk(out: string): WrkFigures {
  const ms = (text: string | undefined) => {
    const match = /([\d.]+)(us|ms|s)/.exec(text ?? '');
    if (!match) return Number.NaN;
    const value = Number(match[1]);
    return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN),
    p50: Number(ms(/^\s+50%\s+(\S+)/m.exec(out)?.[1]).toFixed(1)),
    p99: Number(ms(/^\s+99%\s+(\S+)/m.exec(out)?.[1]).toFixed(1)),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    errors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** The round with the median `rate` (its other figures with it). */
export function medianRound<T>(rounds: readonly T[], rate: (round: T) => number): T {
  const sorted = [...rounds].sort((a, b) => rate(a) - rate(b));
  const middle = sorted[Math.floor(sorted.length / 2)];
  if (middle === undefined) throw new Error('no rounds');
  return middle;
}
