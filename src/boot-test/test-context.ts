import type { Emit } from '../events/events.js';
import type { Started } from '../exec/start.js';
import type { Artifact, Manifest } from '../store/manifest.js';
import type { ArtifactServer } from './artifact-server.js';
import type { CheckResult } from './checks.js';
import type { ConsoleState } from './console-watch.js';
import type { TestReport } from './report.js';
import type { SshSession } from './ssh.js';

/** What a boot test is given, and the state its stages share (boot-test.ts runs them). */

export interface BootTestOptions {
  store: string;
  /** name@version, or name for the latest version. */
  image: string;
  via: 'direct' | 'pxe';
  emit: Emit;
  signal: AbortSignal;
  /** Where the SSH host-forward listens; default: a free loopback port (tests pass their own). */
  pickPort?: () => Promise<number>;
  /** Boot from the rendered PXE tree as a member of a node group does (`--channel`). */
  tree?: TreeBoot;
}

/** A boot through the promoted PXE tree: QEMU's NIC gets a node's MAC and loads `entry` from the TFTP root. */
export interface TreeBoot {
  tftpRoot: string;
  channel: string;
  generation: number;
  group: string;
  mac: string;
  /** The member booted (its host name), when pxeforge.yaml names it. */
  node: string | undefined;
  /** SHA256 fingerprint of the node's managed SSH host key, when its group has `hostKeys: managed`. */
  managedHostKey: string | undefined;
  /** The node's archive (its node files) in this generation: tree-relative path and sha256; undefined when it has none. */
  nodeArchive: { path: string; sha256: string } | undefined;
  /** boot.ipxe (iPXE) or pxelinux.0 (the site's pxelinux, BIOS). */
  entry: string;
  /** The tree-relative directory of the placed version: the files a node loads. */
  placed: string;
  /** Set when nodes fetch squashfs roots from QEMU's view of this host (10.0.2.2): the test serves them. */
  httpPort: number | undefined;
  /** Boot with UEFI firmware (OVMF): the node group's firmware is uefi and the entry is an EFI program. */
  uefi: boolean;
}

export interface TestContext {
  options: BootTestOptions;
  dir: string;
  manifest: Manifest;
  artifacts: Record<string, Artifact>;
  run: string;
  consoleFile: string;
  key: { private: string; public: string };
  accel: 'kvm' | 'tcg';
  server?: ArtifactServer;
  vm?: Started;
  consoleWatch?: { stop(): Promise<void> };
  argv: string[];
  console: ConsoleState;
  ssh?: SshSession;
  checks: CheckResult[];
  startedAt: number;
  failure?: TestReport['failure'];
}

export type Tools = { emit: Emit; signal: AbortSignal };
