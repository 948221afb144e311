import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { SPECS } from '@sluice/config';
import { isSluiceError } from '@sluice/core';
import { checkEnvFile, readEnvFile } from '../src/config-check.ts';
import { buildProgram } from '../src/program.ts';

const ENV_DIR = resolve(__dirname, '../../../env');
const envFiles = readdirSync(ENV_DIR).filter((file) => file.endsWith('.env')).sort();

/** `sluice config check …` in process: what it printed, or the error it failed with. */
async function configCheck(args: string[]): Promise<{ printed: string; error: unknown }> {
  const lines: string[] = [];
  try {
    await buildProgram((line) => lines.push(line)).exitOverride().parseAsync(['config', 'check', ...args], { from: 'user' });
    return { printed: lines.join('\n'), error: undefined };
  } catch (error) {
    return { printed: lines.join('\n'), error };
  }
}

function tempEnvFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-env-')), 'test.env');
  writeFileSync(file, text);
  return file;
}

describe('env/ profiles', () => {
  it('are dev, small, medium and large, each with its Helm values and nothing else', () => {
    expect(envFiles).toEqual(['dev.env', 'large.env', 'medium.env', 'small.env']);
    const expected = envFiles.flatMap((file) => [file, file.replace(/\.env$/, '.values.yaml')]).sort();
    expect(readdirSync(ENV_DIR).sort()).toEqual(expected);
  });

  it.each(envFiles)('%s passes `sluice config check --env-file`', async (file) => {
    const { printed, error } = await configCheck(['--env-file', join(ENV_DIR, file)]);
    expect(error).toBeUndefined();
    expect(JSON.parse(printed)).toMatchObject({ logging: { level: expect.any(String) } });
  });

  it.each(envFiles)('%s is in the subset Node, Compose and the Helm chart read alike, and holds no secret', (file) => {
    const lines = readFileSync(join(ENV_DIR, file), 'utf8').split('\n');
    for (const line of lines) expect(line).toMatch(/^(|#.*|[A-Z][A-Z0-9_]*=[^\s"'#]*)$/);
    const names = Object.keys(readEnvFile(join(ENV_DIR, file)));
    const secrets = Object.values(SPECS).filter((spec) => 'secret' in spec && spec.secret).map((spec) => spec.name);
    expect(names.filter((name) => secrets.includes(name))).toEqual([]);
  });

  it('production profiles run on the production adapters, without the open demo source', () => {
    for (const file of ['small.env', 'medium.env', 'large.env']) {
      const config = checkEnvFile(readEnvFile(join(ENV_DIR, file)));
      expect(config.adapters).toMatchObject({ bus: 'pulsar', store: 'elasticsearch', cache: 'redis', jobs: 'bullmq' });
      expect(config.demoSource).toBe(false);
      expect(config.snapshots.enabled).toBe(true);
    }
  });
});

describe('sluice config check --env-file', () => {
  it('checks the file alone, as a container given only it would start (the shell\'s environment does not count)', async () => {
    process.env.STORAGE_BATCH_SIZE = 'not a number';
    try {
      const { printed, error } = await configCheck(['--env-file', tempEnvFile('STORAGE_BATCH_SIZE=250\n')]);
      expect(error).toBeUndefined();
      expect(JSON.parse(printed)).toMatchObject({ worker: { batchSize: 250 } });
    } finally {
      delete process.env.STORAGE_BATCH_SIZE;
    }
  });

  it('refuses, all at once, invalid values and names that are not settings (a typo the process would ignore)', async () => {
    const { error } = await configCheck(['--env-file', tempEnvFile('# a comment\nSTORAGE_BATCH_SIZE=0\nSTORAGE_BATCH_SIZ=500\nLOGGING_LEVEL=loud\n')]);
    expect(isSluiceError(error) && error.code).toBe('CONFIG_INVALID');
    const message = (error as Error).message;
    expect(message).toMatch(/STORAGE_BATCH_SIZ: not a Sluice setting/);
    expect(message).toMatch(/STORAGE_BATCH_SIZE: /);
    expect(message).toMatch(/LOGGING_LEVEL: /);
  });

  it('never echoes a secret from the file, valid or not', async () => {
    const valid = await configCheck(['--env-file', tempEnvFile('ADMIN_TOKEN=s3cret-admin-token-0123456789\nREDIS_HOST=redis://:hunter2pass@cache:6379\n')]);
    expect(valid.error).toBeUndefined();
    expect(valid.printed).not.toContain('s3cret-admin-token-0123456789');
    expect(valid.printed).not.toContain('hunter2pass');
    const invalid = await configCheck(['--env-file', tempEnvFile('ADMIN_TOKEN=short-s3cret\n')]);
    expect((invalid.error as Error).message).toMatch(/ADMIN_TOKEN: /);
    expect((invalid.error as Error).message).not.toContain('short-s3cret');
  });

  it('names a file it cannot read', async () => {
    const { error } = await configCheck(['--env-file', '/nonexistent/sluice.env']);
    expect(isSluiceError(error) && error.code).toBe('CONFIG_INVALID');
    expect((error as Error).message).toMatch(/cannot read env file \/nonexistent\/sluice.env: ENOENT/);
  });
});
