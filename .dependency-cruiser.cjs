/**
 * The layers of pxeforge, top to bottom. A module may import its own layer and the layers
 * below it, never one above; and nothing may import in a cycle. `npm run lint` checks both.
 * docs/architecture.md explains each layer; a new folder under src/ gets a line here.
 */
const layers = [
  { name: 'cli', folders: ['cli'] },
  { name: 'workflow', folders: ['workflow', 'report', 'doctor', 'fleet', 'rollout'] },
  { name: 'executors, promote, boot test', folders: ['executors', 'promote', 'boot-test'] },
  { name: 'image and store', folders: ['image', 'store', 'integrity', 'nodes'] },
  { name: 'recipe and site', folders: ['recipe', 'site'] },
  { name: 'descriptors (distros, formats, boot loaders, architectures)', folders: ['distros', 'formats', 'boot-loaders', 'arches'] },
  { name: 'source, exec, events, errors', folders: ['source', 'exec', 'events', 'errors', 'progress', 'rootfs', 'version.ts'] },
];

const pattern = (folders) => `^src/(${folders.map((folder) => folder.replace('.', '\\.')).join('|')})(/|$)`;

const layerRules = layers.slice(1).map((layer, index) => ({
  name: `layer: ${layer.name}`,
  comment: `${layer.name} must not import from a layer above it (${layers
    .slice(0, index + 1)
    .map((above) => above.name)
    .join('; ')})`,
  severity: 'error',
  from: { path: pattern(layer.folders) },
  to: { path: pattern(layers.slice(0, index + 1).flatMap((above) => above.folders)) },
}));

const known = layers.flatMap((layer) => layer.folders);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle ties modules that should be able to change apart',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'layer: unplaced folder',
      comment: 'every folder under src/ belongs to a layer: add it to .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^src/', pathNot: pattern(known) },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
