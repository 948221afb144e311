// `npm run deploy:check`: validates what deploys Sluice, without Docker or a cluster.
//   0. package-lock.json records every platform's optional packages (else `npm ci` on another
//      platform, e.g. the image's, installs a package without its native binary or fails);
//   1. the Dockerfile, linted by hadolint;
//   2. deploy/compose.yaml against the Compose specification's JSON schema (check-jsonschema);
//   3. every env/ profile (env/NAME.env) with `sluice config check --env-file`'s own check;
//   4. the Helm chart: `helm lint` and `helm template` for every profile (env/NAME.values.yaml
//      with --set-file configFile=env/NAME.env), which also applies values.schema.json (an
//      unknown values key fails), then the rendered manifests against the Kubernetes schemas,
//      offline and strict (kubernetes-validate: unknown fields fail).
// The tools come from scripts/deploy-check/install-tools.sh (.tools/, cached). Paths can be
// overridden so the tests can hand it a broken chart, values file, Compose file or Dockerfile:
//   --chart DIR  --values FILE (added after each profile's)  --compose FILE  --dockerfile FILE  --env-dir DIR
// Exits 1 listing every failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkEnvFile, readEnvFile } from '../../apps/cli/src/config-check.ts';

const root = resolve(import.meta.dirname, '../..');
const tools = join(root, '.tools');

interface Options {
  readonly chart: string;
  readonly values: string | undefined;
  readonly compose: string;
  readonly dockerfile: string;
  readonly envDir: string;
}

interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly output: string;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: { chart: { type: 'string' }, values: { type: 'string' }, compose: { type: 'string' }, dockerfile: { type: 'string' }, 'env-dir': { type: 'string' } },
  });
  return {
    chart: resolve(values.chart ?? join(root, 'deploy/helm/sluice')),
    values: values.values === undefined ? undefined : resolve(values.values),
    compose: resolve(values.compose ?? join(root, 'deploy/compose.yaml')),
    dockerfile: resolve(values.dockerfile ?? join(root, 'Dockerfile')),
    envDir: resolve(values['env-dir'] ?? join(root, 'env')),
  };
}

function run(name: string, command: string, args: readonly string[]): Step & { stdout: string } {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const output = `${result.stderr}${result.error === undefined ? '' : String(result.error)}`.trim();
  return { name, ok: result.status === 0, output: result.status === 0 ? '' : `${result.stdout}\n${output}`.trim(), stdout: result.stdout };
}

/** The profiles: each env/NAME.env, with its Helm values env/NAME.values.yaml. */
function profiles(envDir: string): string[] {
  return readdirSync(envDir)
    .filter((file) => file.endsWith('.env'))
    .map((file) => file.slice(0, -'.env'.length))
    .sort();
}

interface LockEntry {
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

/**
 * Every optional dependency of every locked package resolves to a locked entry, as Node
 * resolves it: in the package's own node_modules, else in each ancestor's, up to the root.
 */
function checkLockOptionals(): Step {
  const name = 'package-lock.json records every optional (platform) package';
  const packages = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const missing: string[] = [];
  for (const [path, entry] of Object.entries(packages)) {
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) {
      const ancestors = path.split('/node_modules/').map((_, index, parts) => parts.slice(0, parts.length - index).join('/node_modules/'));
      const candidates = [...ancestors, ''].map((base) => (base === '' ? `node_modules/${dependency}` : `${base}/node_modules/${dependency}`));
      if (!candidates.some((candidate) => candidate in packages)) missing.push(`${path || '(root)'} → ${dependency}`);
    }
  }
  const fix = 'record them with npm itself, e.g. for a package P at the locked version V: npm install P@V --package-lock-only && npm uninstall P --package-lock-only';
  return { name, ok: missing.length === 0, output: missing.length === 0 ? '' : `missing:\n${missing.join('\n')}\n${fix}` };
}

function checkProfileSettings(envDir: string, profile: string): Step {
  const name = `sluice config check --env-file env/${profile}.env`;
  try {
    checkEnvFile(readEnvFile(join(envDir, `${profile}.env`)));
    return { name, ok: true, output: '' };
  } catch (error) {
    return { name, ok: false, output: error instanceof Error ? error.message : String(error) };
  }
}

function checkChart(options: Options, profile: string, scratch: string): Step[] {
  const valuesArgs = ['-f', join(options.envDir, `${profile}.values.yaml`), ...(options.values === undefined ? [] : ['-f', options.values]), '--set-file', `configFile=${join(options.envDir, `${profile}.env`)}`];
  const helm = join(tools, 'bin/helm');
  const lint = run(`helm lint (${profile})`, helm, ['lint', '--strict', options.chart, ...valuesArgs]);
  const template = run(`helm template (${profile})`, helm, ['template', 'sluice', options.chart, '--namespace', 'sluice', ...valuesArgs]);
  if (!template.ok) return [lint, template];
  const rendered = join(scratch, `${profile}.yaml`);
  writeFileSync(rendered, template.stdout);
  // --strict: a field Kubernetes does not know fails. Kinds it has no schema for (the
  // ServiceMonitor CRD) are reported as warnings.
  const validate = run(`kubernetes-validate (${profile})`, join(tools, 'venv/bin/kubernetes-validate'), ['--strict', '--quiet', rendered]);
  return [lint, template, validate];
}

function main(): void {
  const options = parseOptions();
  const install = run('install tools (scripts/deploy-check/install-tools.sh)', 'bash', [join(root, 'scripts/deploy-check/install-tools.sh')]);
  if (!install.ok) finish([install]);
  const scratch = mkdtempSync(join(tmpdir(), 'sluice-deploy-check-'));
  try {
    const steps: Step[] = [
      checkLockOptionals(),
      run('hadolint Dockerfile', join(tools, 'venv/bin/hadolint'), ['--failure-threshold', 'info', options.dockerfile]),
      run('check-jsonschema compose (Compose specification)', join(tools, 'venv/bin/check-jsonschema'), ['--builtin-schema', 'vendor.compose-spec', options.compose]),
    ];
    for (const profile of profiles(options.envDir)) {
      steps.push(checkProfileSettings(options.envDir, profile), ...checkChart(options, profile, scratch));
    }
    finish(steps);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function finish(steps: readonly Step[]): never {
  for (const step of steps) process.stdout.write(`${step.ok ? 'ok  ' : 'FAIL'} ${step.name}\n${step.ok ? '' : `${step.output.replace(/^/gm, '     ')}\n`}`);
  const failed = steps.filter((step) => !step.ok).length;
  process.stdout.write(`deploy-check: ${String(steps.length - failed)} passed, ${String(failed)} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}

main();
