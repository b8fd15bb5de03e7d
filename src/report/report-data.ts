import type { BootPhase } from '../boot-test/console-watch.js';
import type { Firmware } from '../boot-loaders/boot-loader.js';
import type { VersionDiff } from '../store/diff.js';

/**
 * Everything the report page shows, gathered in one place (`gather.ts`) and drawn by one pure
 * function (`render.ts`). Every string in it comes from files other people can write (the
 * history, state.json, manifests, test reports, pxeforge.yaml): it is data, never markup.
 */
export interface ReportData {
  generatedAt: string;
  tftpRoot: string;
  /** The generation `current` points at; null when nothing was promoted yet. */
  generation: number | null;
  channels: ChannelView[];
  groups: GroupView[];
  /** Newest first. */
  timeline: TimelineEntry[];
  images: ImageView[];
  fleet: { file: string; takenAt: string | null; problem: string | null };
  /** Things the reader should know about the inputs: damaged history lines, unreadable files. */
  warnings: string[];
}

export type TestVerdict = 'passed' | 'failed' | 'forced' | 'untested';

export interface ChannelView {
  name: string;
  protected: boolean;
  description: string | null;
  served: {
    image: string;
    version: string;
    since: string;
    by: string;
    test: TestVerdict;
    commit: string | null;
    dirty: boolean;
    /** Versions `rollback` goes back to, the next one first. */
    rollback: string[];
  }[];
}

/** What a member should boot now, and (with a fleet snapshot) what it booted. */
export interface MemberView {
  host: string | null;
  mac: string;
  shouldBoot: string | null;
  fleet: { booted: string | null; verified: boolean | null; pendingReboot: boolean; drift: boolean; problem: string | null } | null;
}

export interface GroupView {
  name: string;
  image: string;
  channel: string;
  firmware: Firmware;
  /** The version the group's channel serves of its image in the current generation. */
  shouldBoot: string | null;
  /** pxeforge.yaml and the current generation disagree about this group (`refresh` renders it). */
  notRendered: boolean;
  members: MemberView[];
  counts: { members: number; reported: number; drift: number; pendingReboot: number; unverified: number };
}

export type TimelineKind = 'promote' | 'rollback' | 'refresh' | 'rollout' | 'rollout-rollback' | 'rollout-complete';

export interface TimelineEntry {
  generation: number;
  at: string;
  kind: TimelineKind;
  channel: string | null;
  image: string | null;
  from: string | null;
  to: string | null;
  user: string;
  sudoUser: string | null;
  host: string;
  reason: string | null;
  forced: boolean;
  allowDirty: boolean;
  /** How the lock of a dead holder was taken over, when it was. */
  recovered: string | null;
  /** A rollout's wave (null: not a wave) and the nodes the change moved. */
  wave: number | null;
  nodes: string[];
}

export interface VersionView {
  version: string;
  createdAt: string | null;
  format: string | null;
  /** Bytes of all artifacts. */
  size: number;
  /** null when the manifest lists no packages. */
  packages: number | null;
  kernel: string | null;
  commit: string | null;
  dirty: boolean;
  test: {
    passed: boolean;
    via: string;
    startedAt: string;
    durationMs: number;
    checksPassed: number;
    checks: number;
    /** Milliseconds from QEMU start to each boot phase reached. */
    phases: Partial<Record<BootPhase, number>>;
    /** The test booted other artifacts than the manifest's. */
    stale: boolean;
  } | null;
  /** Channels that serve this version now. */
  servedBy: string[];
  problem: string | null;
}

export interface ImageView {
  name: string;
  /** Oldest first. */
  versions: VersionView[];
  /** What changed from each version to the next, oldest pair first. */
  changes: { from: string; to: string; diff: VersionDiff }[];
}
