import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { checkRecordText } from '../store/record.js';

/**
 * The last fleet snapshot: what each node reported it booted, read over SSH from its
 * `/run/pxeforge/boot.json`. Nothing writes it yet; the coming `pxeforge fleet status` is
 * meant to save its result here so that the report can show it. Until then the report shows
 * what each member should boot and says that no snapshot was taken.
 *
 *   <store>/fleet/status.json   (beside the images, never in the PXE tree)
 *   {
 *     "schemaVersion": 1,
 *     "takenAt": "2026-11-25T12:00:00Z",
 *     "nodes": {
 *       "52:54:00:00:10:01": {                       MAC, lowercase, colon-separated
 *         "booted": { "image": "compute", "version": "20261125T1204Z-3fa9c1d2", "generation": 12 } | null,
 *         "verified": true | false | null,          root digest checked before mounting
 *         "pendingReboot": false,                   booted generation is older than current
 *         "problem": "ssh: connection refused"      optional: why the node could not be read
 *       }
 *     }
 *   }
 */
export const fleetSnapshotSchema = z.object({
  schemaVersion: z.literal(1),
  takenAt: z.string(),
  nodes: z.record(
    z.string(),
    z.object({
      booted: z.object({ image: z.string(), version: z.string(), generation: z.number().int().nullable().optional() }).nullable(),
      verified: z.boolean().nullable(),
      pendingReboot: z.boolean(),
      problem: z.string().optional(),
    }),
  ),
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
