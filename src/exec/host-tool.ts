/** A program or file on the admin host that some part of the pipeline needs (doctor checks them). */
export interface HostTool {
  name: string;
  /** A program looked up on PATH (plus the sbin directories), or an absolute file. */
  check: { program: string } | { file: string };
  /** Debian package that provides it. */
  package: string;
  neededFor: 'build' | 'boot test' | 'promote' | 'provenance';
  purpose: string;
}
