// The deployment check CI runs (`npm run deploy:check`): it passes on the repository and
// fails on each kind of breakage it exists to catch. It installs its tools from the
// registries into .tools/ on first use (hence an integration test).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = resolve(__dirname, '../../..');
const NODE = join(ROOT, 'node_modules/.bin/node');

function deployCheck(args: string[] = []): { code: number | null; output: string } {
  const result = spawnSync(NODE, [join(ROOT, 'scripts/deploy-check/deploy-check.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 900_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'sluice-deploy-check-test-'));
}

/** A copy of the chart with one file replaced or added. */
function brokenChart(file: string, edit: (text: string) => string): string {
  const chart = join(scratch(), 'sluice');
  cpSync(join(ROOT, 'deploy/helm/sluice'), chart, { recursive: true });
  let text = '';
  try {
    text = readFileSync(join(chart, file), 'utf8');
  } catch {
    // a new file
  }
  writeFileSync(join(chart, file), edit(text));
  return chart;
}

describe('deploy check', () => {
  it('passes on the repository: Dockerfile, Compose file, every env/ profile and the chart rendered for each', () => {
    const { code, output } = deployCheck();
    expect(output).toMatch(/ok {3}hadolint Dockerfile/);
    expect(output).toMatch(/ok {3}check-jsonschema compose/);
    for (const profile of ['dev', 'small', 'medium', 'large']) {
      expect(output).toContain(`ok   sluice config check --env-file env/${profile}.env`);
      expect(output).toContain(`ok   helm lint (${profile})`);
      expect(output).toContain(`ok   kubernetes-validate (${profile})`);
    }
    expect(output).toMatch(/deploy-check: \d+ passed, 0 failed/);
    expect(code).toBe(0);
  }, 900_000);

  it('fails on an unknown values key, naming it', () => {
    const values = join(scratch(), 'typo.yaml');
    writeFileSync(values, 'api:\n  replicaz: 3\n');
    const { code, output } = deployCheck(['--values', values]);
    expect(output).toMatch(/FAIL helm template \(small\)[\s\S]*replicaz/);
    expect(code).toBe(1);
  }, 300_000);

  it('fails on a secret or an unknown name under `config` (they belong in `secrets`, or nowhere)', () => {
    const values = join(scratch(), 'config.yaml');
    writeFileSync(values, 'config:\n  ADMIN_TOKEN: s3cret-s3cret-s3cret\n');
    const { code, output } = deployCheck(['--values', values]);
    expect(output).toMatch(/FAIL helm template \(small\)[\s\S]*ADMIN_TOKEN/);
    expect(code).toBe(1);
  }, 300_000);

  it('fails on a template that does not render', () => {
    const chart = brokenChart('templates/jobs.yaml', (text) => `${text}\n{{ include "sluice.nosuchhelper" . }}\n`);
    const { code, output } = deployCheck(['--chart', chart]);
    expect(output).toMatch(/FAIL helm template \(small\)[\s\S]*sluice\.nosuchhelper/);
    expect(code).toBe(1);
  }, 300_000);

  it('fails on a manifest Kubernetes would refuse (a misspelt field), though Helm renders it', () => {
    const chart = brokenChart('templates/api.yaml', (text) => text.replace('  type: {{ .Values.api.service.type }}', '  type: {{ .Values.api.service.type }}\n  sessionAffinityy: ClientIP'));
    const { code, output } = deployCheck(['--chart', chart]);
    expect(output).toContain('ok   helm template (small)');
    expect(output).toMatch(/FAIL kubernetes-validate \(small\)[\s\S]*sessionAffinityy/);
    expect(code).toBe(1);
  }, 300_000);

  it('fails on a Compose file outside the Compose specification', () => {
    const compose = join(scratch(), 'compose.yaml');
    writeFileSync(compose, readFileSync(join(ROOT, 'deploy/compose.yaml'), 'utf8').replace('    command: [worker]\n', '    command: [worker]\n    replicaz: 2\n'));
    const { code, output } = deployCheck(['--compose', compose]);
    expect(output).toMatch(/FAIL check-jsonschema compose/);
    expect(code).toBe(1);
  }, 300_000);

  it('fails on a Dockerfile hadolint objects to', () => {
    const dockerfile = join(scratch(), 'Dockerfile');
    writeFileSync(dockerfile, readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace('WORKDIR /app\nCOPY package.json', 'WORKDIR /app\nRUN cd /tmp && apt-get install curl\nCOPY package.json'));
    const { code, output } = deployCheck(['--dockerfile', dockerfile]);
    expect(output).toMatch(/FAIL hadolint Dockerfile[\s\S]*DL3/);
    expect(code).toBe(1);
  }, 300_000);
});
