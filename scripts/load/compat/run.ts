// `npm run load:check [-- script.js …] [--url URL] [--source ID] [--out-dir DIR]`: runs each k6
// script once through the compatibility runner, each in its own process (a script's module
// state is per process), and exits 1 when any of them fails, naming the script and the cause.
// Without scripts: load-tests/{smoke,capacity,soak,spike,mix}.js.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { runScript } from './run-script.ts';

const DEFAULT_SCRIPTS = ['smoke', 'capacity', 'soak', 'spike', 'mix'].map((name) => `load-tests/${name}.js`);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env['SLUICE_URL'] ?? 'http://127.0.0.1:8686' },
    source: { type: 'string', default: process.env['SOURCE_IDS'] ?? process.env['SOURCE_ID'] ?? 'demo' },
    'out-dir': { type: 'string' },
    'one-script': { type: 'boolean', default: false },
  },
});
const outDir = values['out-dir'] ?? mkdtempSync(join(tmpdir(), 'sluice-k6-compat-'));
const env: Record<string, string> = { SLUICE_URL: values.url, SOURCE_ID: values.source.split(',')[0] ?? 'demo', SOURCE_IDS: values.source };

if (values['one-script']) {
  // The child: one script in this process.
  const script = positionals[0]!;
  const result = await runScript(script, env, outDir);
  process.stdout.write(result.stdout);
  for (const file of result.outputs) process.stdout.write(`k6 compat: ${script}: wrote ${file}\n`);
  for (const problem of result.problems) process.stderr.write(`k6 compat: FAIL ${script}: ${problem}\n`);
  process.exitCode = result.problems.length === 0 ? 0 : 1;
} else {
  const scripts = positionals.length > 0 ? positionals : DEFAULT_SCRIPTS;
  let failed = 0;
  for (const script of scripts) {
    const child = spawnSync(process.execPath, [import.meta.filename, '--one-script', '--url', values.url, '--source', values.source, '--out-dir', outDir, script], { stdio: 'inherit' });
    const ok = child.status === 0;
    if (!ok) failed++;
    process.stdout.write(`k6 compat: ${ok ? 'ok' : 'FAIL'} ${relative(process.cwd(), script) || script}${ok ? '' : ` (exit ${String(child.status ?? child.signal)})`}\n`);
  }
  process.stdout.write(`k6 compat: ${scripts.length - failed} of ${scripts.length} scripts passed; summaries in ${outDir}\n`);
  process.exitCode = failed === 0 ? 0 : 1;
}
