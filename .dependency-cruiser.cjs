// The layers of src/ and the direction they may import in (README, "Architecture").
// Each layer imports only itself and the layers below it:
//   core < util  <  protocols  <  probers  <  store < config < runner < indicators < alerting < reports  <  server < cli
// The lab stands apart: it imports only util and protocols, and only cli starts it.
// The fleet (membership, placement, leadership in PostgreSQL) stands beside the layers: it imports only store,
// config and util, and only server and cli import it (the runner and alerting are handed predicates instead).

/** Folders of src/ from the bottom up; a folder may import the ones before it. */
const ORDER = [
  'protocols',
  'probers',
  'store',
  'config',
  'runner',
  'indicators',
  'alerting',
  'reports',
  'server',
  'cli',
];
const FOUNDATION = ['core', 'util'];

/** Besides the layers below: the command line starts the lab and the fleet; the server shows the fleet's agents. */
const ALSO = { cli: ['lab', 'fleet'], server: ['fleet'] };

const folders = (names) => `^src/(${names.join('|')})/`;

const layerRules = ORDER.map((name, index) => {
  const allowed = [...FOUNDATION, ...ORDER.slice(0, index), ...(ALSO[name] ?? [])];
  return {
    name: `${name}-not-above`,
    comment: `${name}/ imports only ${allowed.join(', ')} and itself`,
    severity: 'error',
    from: { path: `^src/${name}/` },
    to: { path: '^src/', pathNot: folders([...allowed, name]) },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No module reaches itself through its imports: every ring is a layer drawn wrong',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-nothing-of-ours',
      comment:
        'core/ holds the shared vocabulary (probe types, errors, assertions, zod atoms) and depends on none of src/',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'util-imports-only-core',
      comment: 'util/ holds clocks, loggers and small helpers; below it is only core/',
      severity: 'error',
      from: { path: '^src/util/' },
      to: { path: '^src/', pathNot: folders(['util', 'core']) },
    },
    {
      name: 'lab-stands-apart',
      comment: 'The lab (real servers for tests and `--lab`) imports only util and protocols, never the product',
      severity: 'error',
      from: { path: '^src/lab/' },
      to: { path: '^src/', pathNot: folders(['lab', 'util', 'protocols']) },
    },
    {
      name: 'only-cli-starts-the-lab',
      comment: 'The product knows nothing of the lab; the command line starts it',
      severity: 'error',
      from: { path: '^src/', pathNot: folders(['lab', 'cli']) },
      to: { path: '^src/lab/' },
    },
    {
      name: 'fleet-imports-only-store-config-util',
      comment:
        'The fleet talks to PostgreSQL for itself; of ours it reads only store types, the configuration and util',
      severity: 'error',
      from: { path: '^src/fleet/' },
      to: { path: '^src/', pathNot: folders(['fleet', 'store', 'config', 'util', 'core']) },
    },
    {
      name: 'only-cli-and-server-use-the-fleet',
      comment: 'The runner and alerting get predicates (shouldRun, isLeader), not the fleet itself',
      severity: 'error',
      from: { path: '^src/', pathNot: folders(['fleet', 'server', 'cli']) },
      to: { path: '^src/fleet/' },
    },
    {
      name: 'no-tests-in-src',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
    ...layerRules,
  ],
  options: {
    // Type-only imports count: a ring through types is still a ring.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/server/status-page/client\\.js$' },
  },
};
