import type { Manifest } from './manifest.js';

/** What changed between two versions of an image (or two images). */
export interface VersionDiff {
  packages: { added: string[]; removed: string[]; changed: { name: string; from: string; to: string }[] };
  kernel: { from: string; to: string } | undefined;
  cmdline: { from: string; to: string } | undefined;
  artifacts: { name: string; from: number | undefined; to: number | undefined; changed: boolean }[];
  inputs: { changed: string[] };
}

/** The parts of a manifest a diff compares. */
export type Diffable = Pick<Manifest, 'inputs' | 'packages' | 'artifacts'> & { kernel: Pick<Manifest['kernel'], 'version' | 'cmdline'> };

export function diffManifests(a: Diffable, b: Diffable): VersionDiff {
  const aSources = a.inputs;
  const bSources = b.inputs;
  const before = new Map(a.packages.map((p) => [`${p.name}:${p.arch}`, p.version]));
  const after = new Map(b.packages.map((p) => [`${p.name}:${p.arch}`, p.version]));
  const added = [...after.keys()].filter((k) => !before.has(k)).map((k) => `${k.split(':')[0]} ${after.get(k)}`);
  const removed = [...before.keys()].filter((k) => !after.has(k)).map((k) => `${k.split(':')[0]} ${before.get(k)}`);
  const changed = [...after.keys()]
    .filter((k) => before.has(k) && before.get(k) !== after.get(k))
    .map((k) => ({ name: k.split(':')[0] ?? k, from: before.get(k)!, to: after.get(k)! }));
  const names = [...new Set([...Object.keys(a.artifacts), ...Object.keys(b.artifacts)])].sort();
  const inputs = [...new Set([...Object.keys(aSources), ...Object.keys(bSources)])].filter((k) => aSources[k] !== bSources[k]).sort();
  return {
    packages: { added: added.sort(), removed: removed.sort(), changed },
    kernel: a.kernel.version === b.kernel.version ? undefined : { from: a.kernel.version, to: b.kernel.version },
    cmdline: a.kernel.cmdline === b.kernel.cmdline ? undefined : { from: a.kernel.cmdline, to: b.kernel.cmdline },
    artifacts: names.map((name) => ({
      name,
      from: a.artifacts[name]?.size,
      to: b.artifacts[name]?.size,
      changed: a.artifacts[name]?.sha256 !== b.artifacts[name]?.sha256,
    })),
    inputs: { changed: inputs },
  };
}

/**
 * One line per difference, as `pxeforge diff` prints them and the report lists them; `size`
 * formats an artifact's size (undefined: the artifact is not in that version). With
 * `identical: false` only changed artifacts get a line.
 */
export function diffLines(diff: VersionDiff, options: { size: (bytes: number | undefined) => string; identical: boolean }): string[] {
  const { size } = options;
  return [
    ...diff.inputs.changed.map((file) => `input changed: ${file}`),
    ...diff.packages.added.map((p) => `package added: ${p}`),
    ...diff.packages.removed.map((p) => `package removed: ${p}`),
    ...diff.packages.changed.map((p) => `package upgraded: ${p.name} ${p.from} → ${p.to}`),
    ...(diff.kernel ? [`kernel: ${diff.kernel.from} → ${diff.kernel.to}`] : []),
    ...(diff.cmdline ? [`cmdline: ${diff.cmdline.from} → ${diff.cmdline.to}`] : []),
    ...diff.artifacts
      .filter((artifact) => options.identical || artifact.changed)
      .map(
        (artifact) => `artifact ${artifact.name}: ${size(artifact.from)} → ${size(artifact.to)}${artifact.changed ? '' : ' (identical)'}`,
      ),
  ];
}
