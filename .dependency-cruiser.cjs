// The dependency rule (docs/architecture.md), checked in CI by `npm run depcheck`.
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    { name: 'packages-never-import-apps', severity: 'error', from: { path: '^packages/' }, to: { path: '^apps/' } },
    {
      name: 'only-composition-roots-compose-apps',
      comment: 'apps import packages; only apps/cli (the all-in-one composition) and a main.ts (a deployable) may import other apps',
      severity: 'error',
      from: { path: '^apps/([^/]+)/', pathNot: ['^apps/cli/', '^apps/[^/]+/src/main[.]ts$'] },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'core-imports-no-sluice-package',
      severity: 'error',
      from: { path: '^packages/core/src' },
      to: { path: '^(packages|apps)/', pathNot: '^packages/core/' },
    },
    {
      name: 'ports-never-import-other-ports',
      comment: 'a port package depends on core and observability only; wiring is where adapters meet',
      severity: 'error',
      from: { path: '^packages/(bus|store|cache|config-store|jobs)/src' },
      to: { path: '^packages/(bus|store|cache|config-store|jobs|wiring|config)/', pathNot: '^packages/$1/' },
    },
    {
      name: 'engine-clients-only-in-adapters',
      comment: 'app code never imports an engine client directly',
      severity: 'error',
      from: { path: '^apps/' },
      to: { path: 'node_modules/(pulsar-client|@elastic/elasticsearch|ioredis|mysql2|bullmq|ws)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
