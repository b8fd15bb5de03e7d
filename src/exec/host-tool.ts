/** A program or file on the admin host that some part of the pipeline needs (doctor checks them). */
export interface HostTool {
  name: string;
  /**
   * A program looked up on PATH (plus the sbin directories), an absolute file, or the first of
   * several absolute files that exists (where Debian releases put the same file in different places).
   */
  check: { program: string } | { file: string } | { anyFile: readonly string[] };
  /** Debian package that provides it. */
  package: string;
  neededFor: 'build' | 'boot test' | 'promote' | 'provenance';
  purpose: string;
}
