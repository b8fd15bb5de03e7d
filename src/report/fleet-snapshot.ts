import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { checkRecordText } from '../store/record.js';

/**
 * The last fleet snapshot: what each node reported it booted, read over SSH from its
 * `/run/pxeforge/boot.json` by `pxeforge fleet status`, which saves it here; the report shows it.
 *
 *   <store>/fleet/status.json   (beside the images, never in the PXE tree)
 *   {
 *     "schemaVersion": 1,
 *     "takenAt": "2026-11-25T12:00:00Z",
 *     "generation": 12,                               the current generation then (optional)
 *     "counts": { "current": 3, "pendingReboot": 1, "drift": 0, "unreachable": 0 }   (optional)
 *     "nodes": {
 *       "52:54:00:00:10:01": {                       MAC, lowercase, colon-separated
 *         "booted": { "image": "compute", "version": "20261125T1204Z-3fa9c1d2", "generation": 12,
 *                     "bootedAt": "2026-11-25T07:00:00Z" } | null,
 *         "verified": true | false | null,          root digest checked before mounting
 *         "pendingReboot": false,                   booted before the change it lacks
 *         "problem": "ssh: ECONNREFUSED",           optional: why the node could not be read, or what drifts
 *         "host": "cn001" | null,  "address": "10.0.0.1" | null,  "group": "compute",  "channel": "production",
 *         "expected": { "image": "compute", "version": "…" | null, "generation": 12 | null, "nodeFiles": "<sha256>" | null },
 *         "state": "current" | "pending reboot" | "drift" | "unreachable"
 *       }
 *     }
 *   }
 * The fields after `problem` are optional: snapshots written before them still read.
 */
export const nodeStates = ['current', 'pending reboot', 'drift', 'unreachable'] as const;

export const fleetNodeSchema = z.object({
  booted: z
    .object({
      image: z.string().nullable(),
      version: z.string().nullable(),
      generation: z.number().int().nullable().optional(),
      bootedAt: z.string().optional(),
    })
    .nullable(),
  verified: z.boolean().nullable(),
  pendingReboot: z.boolean(),
  problem: z.string().optional(),
  host: z.string().nullable().optional(),
  address: z.string().nullable().optional(),
  group: z.string().optional(),
  channel: z.string().optional(),
  expected: z
    .object({
      image: z.string(),
      version: z.string().nullable(),
      generation: z.number().int().nullable(),
      nodeFiles: z.string().nullable(),
    })
    .optional(),
  state: z.enum(nodeStates).optional(),
});
export type FleetNode = z.infer<typeof fleetNodeSchema>;

export const fleetSnapshotSchema = z.object({
  schemaVersion: z.literal(1),
  takenAt: z.string(),
  generation: z.number().int().nullable().optional(),
  counts: z.object({ current: z.number(), pendingReboot: z.number(), drift: z.number(), unreachable: z.number() }).optional(),
  nodes: z.record(z.string(), fleetNodeSchema),
});
export type FleetSnapshot = z.infer<typeof fleetSnapshotSchema>;

export function fleetSnapshotFile(store: string): string {
  return path.join(store, 'fleet', 'status.json');
}

/** The snapshot, undefined when there is none, or the reason it cannot be used. */
export async function readFleetSnapshot(file: string): Promise<{ snapshot?: FleetSnapshot; problem?: string }> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    return { problem: `cannot be read (${error.code ?? error.message})` };
  });
  if (text === undefined) return {};
  if (typeof text !== 'string') return text;
  const checked = checkRecordText(text, fleetSnapshotSchema);
  if ('value' in checked) return { snapshot: checked.value };
  return { problem: checked.problem === 'not valid JSON' ? 'is not valid JSON' : `is not a fleet snapshot (${checked.problem})` };
}
