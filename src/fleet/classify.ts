import type { BootRecord } from '../nodes/boot-record.js';

export type NodeState = 'current' | 'pending reboot' | 'drift' | 'unreachable';

/** What a member should boot now: its group's image as the current generation serves it. */
export interface Expected {
  image: string;
  /** null: the group's channel serves nothing of its image. */
  version: string | null;
  generation: number | null;
  /** When the channel started serving `version` (ISO time). */
  since: string | null;
  /** sha256 of the member's node archive, when its group has node files. */
  nodeFiles: string | null;
  /** When the tree started serving that archive to this member (the generation that changed it). */
  nodeFilesSince: string | null;
  /** The format fetches its root (squashfs): the node must have verified it. */
  fetchesRoot: boolean;
  /** The root's sha256 as promoted, when known. */
  rootSha256: string | null;
}

/**
 * A member's state from what it should boot and what it reported:
 * - current: it booted the expected image, version and node archive, with its root verified
 *   when the format fetches it;
 * - pending reboot: it booted something else, but booted before that changed (an older
 *   generation, and earlier than the change of each thing that differs);
 * - drift: anything else (booted after the change and runs the wrong thing, an unverified
 *   root where verification is expected, a missing or invalid boot record).
 */
export function classify(expected: Expected, record: BootRecord | undefined): { state: NodeState; problem?: string } {
  if (record === undefined) return { state: 'drift' };
  if (expected.version === null) return { state: 'drift', problem: 'its group serves nothing in the current generation' };
  const differs: { what: string; since: string | null }[] = [];
  if (record.image !== expected.image || record.version !== expected.version)
    differs.push({ what: 'image version', since: expected.since });
  if (expected.nodeFiles !== null && record.nodeFiles?.sha256 !== expected.nodeFiles)
    differs.push({ what: 'node files', since: expected.nodeFilesSince });
  if (differs.length === 0) {
    if (record.root.verified === false || (expected.fetchesRoot && record.root.verified !== true))
      return { state: 'drift', problem: 'its root was not verified' };
    if (expected.rootSha256 !== null && record.root.sha256 !== null && record.root.sha256 !== expected.rootSha256)
      return { state: 'drift', problem: 'it booted a root digest other than the promoted one' };
    return { state: 'current' };
  }
  const bootedAt = Date.parse(record.bootedAt);
  const olderGeneration = record.generation !== null && expected.generation !== null && record.generation < expected.generation;
  const bootedBefore = differs.every(({ since }) => since !== null && bootedAt < Date.parse(since));
  if (olderGeneration && bootedBefore) return { state: 'pending reboot' };
  return { state: 'drift', problem: `it booted after the change and runs other ${differs.map((d) => d.what).join(' and ')}` };
}
