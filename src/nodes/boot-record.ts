import { z } from 'zod';

import { checkRecordText } from '../store/record.js';

/**
 * The boot record: what a node booted, written by the image's own program at every boot
 * (docs/fleet.md). Its values come from the `pxeforge.*` kernel parameters pxeforge renders
 * into each boot config; `pxeforge fleet status` and the boot test read it back.
 */

/** Where a node keeps its boot record. */
export const bootRecordPath = '/run/pxeforge/boot.json';

/** Written by the squashfs netboot initrd when it checked the fetched root (one line: the digest). */
export const rootVerifiedPath = '/run/pxeforge/root-verified';

/** The program in every image pxeforge builds that writes the boot record (POSIX sh). */
export const bootRecordProgram = '/usr/lib/pxeforge/boot-record';

/** The systemd unit that runs it once per boot. */
export const bootRecordUnit = 'pxeforge-boot-record.service';

export const bootRecordSchemaVersion = 1;

/** The characters a value taken from the kernel command line may have (names, versions, hex digests). */
export const bootValuePattern = /^[A-Za-z0-9._@+-]+$/;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'is not a sha256 digest' });
const value = z.string().regex(bootValuePattern, { error: 'has characters outside [A-Za-z0-9._@+-]' });

export const bootRecordSchema = z.object({
  schemaVersion: z.literal(bootRecordSchemaVersion),
  image: value.nullable(),
  version: value.nullable(),
  generation: z.int().nonnegative().nullable(),
  group: value.nullable(),
  channel: value.nullable(),
  root: z.object({
    sha256: sha256.nullable(),
    /** true: checked before mounting; false: a digest was expected but not checked; null: the root is not fetched by the node. */
    verified: z.boolean().nullable(),
  }),
  nodeFiles: z.object({ sha256 }).nullable(),
  /** `uname -r`. */
  kernel: z.string(),
  /** UTC, from /proc/stat btime: `2026-11-26T07:00:00Z`. */
  bootedAt: z.iso.datetime(),
  /** /proc/sys/kernel/random/boot_id. */
  bootId: z.string(),
});
export type BootRecord = z.infer<typeof bootRecordSchema>;

/** A boot record's text read back: the record, or what is wrong with it in words. Never throws. */
export function parseBootRecord(text: string): { record: BootRecord } | { problem: string } {
  const checked = checkRecordText(text, bootRecordSchema);
  return 'value' in checked ? { record: checked.value } : { problem: checked.problem };
}
