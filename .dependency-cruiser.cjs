/**
 * The layering of src/ (docs/architecture.md), checked on every CI run:
 * `npm run check:layers`. Each layer may import only the layers below it;
 * an upward import fails with the name of the rule it breaks.
 *
 *   core < util < wire, http < config, vault, audit, project < auth
 *        < catalog < providers < payment < provision < exec, conformance < cli
 *   sandbox: the counterparts; wire only.
 */
const below = {
  core: [],
  util: ['core'],
  wire: ['util'],
  http: ['core', 'util'],
  config: ['core', 'util'],
  vault: ['core', 'util'],
  audit: ['core', 'util'],
  project: ['core', 'util'],
  auth: ['core', 'util', 'wire', 'http', 'config', 'vault', 'audit', 'project'],
  catalog: ['core', 'util', 'wire', 'http', 'config', 'project'],
  providers: ['core', 'util', 'wire', 'http', 'config', 'vault', 'audit', 'project', 'auth', 'catalog'],
  payment: ['core', 'util', 'wire', 'http', 'config', 'vault', 'audit', 'project', 'auth', 'catalog', 'providers'],
  provision: ['core', 'util', 'wire', 'http', 'config', 'vault', 'audit', 'project', 'auth', 'catalog', 'providers', 'payment'],
  exec: ['core', 'util', 'wire', 'http', 'config', 'vault', 'audit', 'project', 'auth', 'catalog', 'providers', 'payment', 'provision'],
  conformance: ['core', 'util', 'wire', 'http', 'config', 'auth', 'payment'],
  sandbox: ['wire'],
};

const layerRules = Object.entries(below).map(([layer, allowed]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${allowed.length ? allowed.map((l) => `src/${l}`).join(', ') : 'itself'} (docs/architecture.md)`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/${layer}/`, ...allowed.map((l) => `^src/${l}/`)] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cli-below',
      comment: 'nothing outside src/cli imports src/cli: the domain returns what happened, the command decides what to print',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    ...layerRules,
    {
      name: 'no-circular',
      comment: 'no import cycle between modules',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a layer must not even name a type from above it.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(node_modules|dist|test)/' },
  },
};
