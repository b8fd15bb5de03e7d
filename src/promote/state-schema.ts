import { z } from 'zod';

import { firmwares } from '../boot-loaders/boot-loader.js';
import { artifactSchema } from '../store/manifest-schema.js';

/** `generations/<n>/state.json` (contract in docs/promotion.md), as pxeforge reads it back; the types derive from it. */
export const treeStateSchemaVersion = 1;

/** What one channel serves of one image. */
export const servedSchema = z.object({
  version: z.string(),
  /** When and by whom this version became the channel's. */
  since: z.string(),
  by: z.string(),
  /** Earlier versions of this channel, most recent last: what `rollback` goes back to. */
  previous: z.array(z.string()),
  forced: z.boolean(),
  /** sha256 of the test-report.json the promotion accepted, when there was one. */
  testReport: z.string().nullable(),
  testPassed: z.boolean().nullable(),
  commit: z.string().nullable(),
  dirty: z.boolean(),
});
export type Served = z.infer<typeof servedSchema>;

/** One line of history.jsonl (and the change a generation's state records). */
export const historyEntrySchema = z.object({
  generation: z.int().positive(),
  at: z.string(),
  /** The account that ran pxeforge (the real user id, never an environment variable). */
  user: z.string(),
  /** What SUDO_USER said when pxeforge ran under sudo: a claim made by sudo's caller, recorded as such. */
  sudoUser: z.string().nullable().optional(),
  host: z.string(),
  /**
   * refresh: node groups re-rendered from pxeforge.yaml, no channel changed (channel, image, to are null).
   * rollout: a wave moved `nodes` of the channel to `to`; rollout-rollback: `nodes` moved back to
   * `to` (a failed wave, or an aborted rollout); rollout-complete: the channel serves `to` to all.
   */
  action: z.enum(['promote', 'rollback', 'refresh', 'rollout', 'rollout-rollback', 'rollout-complete']),
  channel: z.string().nullable(),
  image: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  reason: z.string().nullable(),
  forced: z.boolean(),
  allowDirty: z.boolean(),
  commit: z.string().nullable(),
  dirty: z.boolean(),
  testReport: z.string().nullable(),
  /** Set when this change took over the lock of a holder that had died (see lock.ts). */
  recovered: z.string().optional(),
  /** Rollout entries: the wave (null for an abort or the completion) and the nodes it moved (host names, or MACs). */
  wave: z.int().positive().nullable().optional(),
  nodes: z.array(z.string()).optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** A rollout in progress of one image in one channel: the members moved to `version` so far, by MAC, with when each was moved. */
export const rolloutServedSchema = z.object({
  version: z.string(),
  nodes: z.record(z.string(), z.string()),
});
export type RolloutServed = z.infer<typeof rolloutServedSchema>;

/** `generations/<n>/state.json`: what the generation serves, and the change that made it. */
export const treeStateSchema = z.object({
  schemaVersion: z.literal(treeStateSchemaVersion),
  generation: z.int().positive(),
  createdAt: z.string(),
  /** channel → image → what it serves. */
  channels: z.record(z.string(), z.record(z.string(), servedSchema)),
  change: historyEntrySchema,
  /** What each node group boots in this generation (for `status`). */
  groups: z.array(
    z.object({
      name: z.string(),
      image: z.string(),
      channel: z.string(),
      version: z.string().nullable(),
      members: z.int().nonnegative(),
      firmware: z.enum(firmwares),
      /** A rollout in progress: its version, and how many members boot it so far. */
      rollout: z.object({ version: z.string(), moved: z.int().nonnegative() }).optional(),
    }),
  ),
  /** Every file the generation's configs reference, tree-relative, with its sha256. */
  files: z.record(z.string(), artifactSchema),
  /** Entry points (tree-relative) → path inside the generation they resolve to. */
  entries: z.record(z.string(), z.string()),
  /**
   * Members with node files, by MAC: the host and its archive (tree-relative,
   * `pxeforge/nodes/<sha256>.cpio`; its digest is in `files`). Absent in states written before node files.
   */
  nodes: z.record(z.string(), z.object({ host: z.string(), archive: z.string() })).optional(),
  /**
   * Rollouts in progress: channel → image → the members that boot the rollout's version instead of
   * the channel's (see src/rollout). Absent when there is none.
   */
  rollouts: z.record(z.string(), z.record(z.string(), rolloutServedSchema)).optional(),
});
export type TreeState = z.infer<typeof treeStateSchema>;
