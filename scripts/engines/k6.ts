// k6 built from its Go module through the Go module proxy, once per version, cached.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE_DIR, ensureDir, log, run, runAsync, which, type Engine, type Env, type Status } from './lib.ts';

export const K6_VERSION = process.env.SLUICE_K6_VERSION ?? 'v1.8.1';
const binDir = () => join(CACHE_DIR, `k6-${K6_VERSION}`);
export const k6Bin = () => join(binDir(), 'k6');

export const k6: Engine = {
  name: 'k6',
  description: `k6 ${K6_VERSION}, built from go.k6.io/k6`,

  async install() {
    if (existsSync(k6Bin())) return;
    // Go's own installer puts it in /usr/local/go, which is not always on PATH.
    const go = which('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
    if (!go) throw new Error('building k6 needs Go (1.24+): https://go.dev/doc/install, or set SLUICE_K6_VERSION to one your Go builds');
    log(`building k6 ${K6_VERSION} from its Go module (a few minutes, once)`);
    const gopath = ensureDir(join(CACHE_DIR, 'go'));
    await runAsync(go, ['install', `go.k6.io/k6@${K6_VERSION}`], {
      env: { ...process.env, GOBIN: ensureDir(binDir()), GOPATH: gopath, GOMODCACHE: join(gopath, 'pkg', 'mod'), CGO_ENABLED: '0', GOFLAGS: '-trimpath' },
    });
  },

  async up() {
    await this.install();
  },

  async down() {
    // Nothing runs in the background.
  },

  async status(): Promise<Status> {
    if (!existsSync(k6Bin())) return { running: false, detail: 'not built' };
    return { running: true, detail: run(k6Bin(), ['version']).trim().split('\n')[0] ?? 'built' };
  },

  env(): Env {
    return { K6_BIN: k6Bin() };
  },
};
