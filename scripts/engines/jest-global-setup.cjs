// Integration tests run on real engines: bring up the ones that are not running (idempotent;
// a few seconds when all run). SLUICE_TEST_ENGINES=none skips it; a list selects engines.
const { spawnSync } = require('node:child_process');
const { join } = require('node:path');

module.exports = async function globalSetup() {
  const wanted = (process.env.SLUICE_TEST_ENGINES ?? 'all').split(/[,\s]+/).filter(Boolean);
  if (wanted.includes('none')) return;
  const result = spawnSync(process.execPath, ['--use-system-ca', join(__dirname, 'engines.ts'), 'up', ...wanted], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) throw new Error(`npm run engines:up failed (exit ${String(result.status)}); see the lines above`);
};
