/** Artifacts by name with the sha256 they had: a manifest's, or a boot test's as booted. */
type Digests = Record<string, { sha256: string }>;

/**
 * The artifacts a boot test did not boot as they are now: missing from the report, or booted
 * with another digest. Empty: the report covers exactly these artifacts (what a protected
 * channel asks for).
 */
export function untestedArtifacts(artifacts: Digests, tested: Digests): string[] {
  return Object.entries(artifacts)
    .filter(([name, artifact]) => tested[name]?.sha256 !== artifact.sha256)
    .map(([name]) => name);
}

/** Whether a boot test's report is of exactly the artifacts a manifest records. */
export function reportCovers(report: { artifacts: Digests }, manifest: { artifacts: Digests }): boolean {
  return untestedArtifacts(manifest.artifacts, report.artifacts).length === 0;
}
