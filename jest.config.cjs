// Tests are tiered by file name: *.test.ts (no network, no engines) and
// *.integration.test.ts (real processes, real engines, random names, cleanup).
const transform = {
  '^.+\\.(ts|js)$': ['@swc/jest', { jsc: { target: 'es2024', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }],
};
const common = {
  transform,
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  roots: ['<rootDir>/apps', '<rootDir>/packages', '<rootDir>/scripts'],
};
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['**/*.test.ts'], testPathIgnorePatterns: ['/node_modules/', '\\.integration\\.test\\.ts$'] },
    { ...common, displayName: 'integration', testMatch: ['**/*.integration.test.ts'], globalSetup: '<rootDir>/scripts/engines/jest-global-setup.cjs' },
  ],
};
