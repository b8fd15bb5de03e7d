import { untestedArtifacts } from '../integrity/coverage.js';
import { diffManifests, type Diffable } from '../store/diff.js';
import type { TreeState } from '../promote/tree.js';
import type { ImageView, VersionView } from './report-data.js';
import type { StoredManifest, StoredVersion } from './stored-version.js';

/** One image's versions (oldest first) with what the tree serves of them, and what changed between neighbours. */
export function imageView(name: string, versions: readonly StoredVersion[], state: TreeState | undefined): ImageView {
  const servedBy = (version: string) =>
    Object.entries(state?.channels ?? {})
      .filter(([, images]) => images[name]?.version === version)
      .map(([channel]) => channel)
      .sort();
  const views = versions.map((v) => versionView(v, servedBy(v.version)));
  const readable = versions.filter((v) => v.manifest !== undefined);
  const changes = readable.slice(1).map((to, index) => {
    const from = readable[index]!;
    return { from: from.version, to: to.version, diff: diffManifests(diffable(from.manifest!), diffable(to.manifest!)) };
  });
  return { name, versions: views, changes };
}

function versionView(stored: StoredVersion, servedBy: string[]): VersionView {
  const { manifest, test } = stored;
  const artifacts = Object.entries(manifest?.artifacts ?? {});
  return {
    version: stored.version,
    createdAt: manifest?.createdAt ?? null,
    format: manifest?.format ?? null,
    size: artifacts.reduce((sum, [, a]) => sum + a.size, 0),
    packages: manifest?.packages?.length ?? null,
    kernel: manifest?.kernel?.version ?? null,
    commit: manifest?.git?.commit ?? null,
    dirty: manifest?.git?.dirty === true,
    test:
      test === undefined
        ? null
        : {
            passed: test.passed,
            via: test.via,
            startedAt: test.startedAt,
            durationMs: test.durationMs,
            checksPassed: test.checks.filter((c) => c.passed).length,
            checks: test.checks.length,
            phases: test.phases,
            stale: untestedArtifacts(manifest?.artifacts ?? {}, test.artifacts).length > 0,
          },
    servedBy,
    problem: stored.problem ?? null,
  };
}

function diffable(manifest: StoredManifest): Diffable {
  return {
    inputs: manifest.inputs,
    packages: manifest.packages ?? [],
    artifacts: manifest.artifacts,
    kernel: { version: manifest.kernel?.version ?? 'unknown', cmdline: manifest.kernel?.cmdline ?? '' },
  };
}
