import { z } from 'zod';

import { invalidInput } from '../errors/user-error.js';
import { bootRecordFile, bootRecordProgram, bootRecordUnit, rootVerifiedFile } from '../formats/node-programs.js';
import { checkRecordText } from '../store/record.js';

/**
 * The boot record: what a node booted, written by the image's own program at every boot
 * (docs/fleet.md). Its values come from the `pxeforge.*` kernel parameters pxeforge renders
 * into each boot config; `pxeforge fleet status` and the boot test read it back.
 */

export { bootRecordFile as bootRecordPath, bootRecordProgram, bootRecordUnit, rootVerifiedFile as rootVerifiedPath };

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

/** What a boot config tells a node of itself (docs/fleet.md): each `pxeforge.*` parameter only when known. */
export interface BootParameters {
  image?: string;
  version?: string;
  generation?: number;
  group?: string;
  channel?: string;
  /** The sha256 of the root the node fetches (formats whose root is fetched). */
  rootSha256?: string;
  /** The sha256 of the node's own archive (per-node configs). */
  nodeFiles?: string;
}

/**
 * The `pxeforge.*` kernel parameters, in the order of the contract, after the image's command
 * line and the group's kernelArgs. Every value is checked to carry only `[A-Za-z0-9._@+-]`
 * (digests: 64 lowercase hex digits) before it is rendered: INVALID_INPUT otherwise.
 */
export function bootParameters(parameters: BootParameters): string[] {
  const out: string[] = [];
  const text = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    if (!bootValuePattern.test(value))
      throw invalidInput(
        'INVALID_INPUT',
        `pxeforge.${name}=${JSON.stringify(value)} has characters outside [A-Za-z0-9._@+-]`,
        'nothing was changed; rename it',
      );
    out.push(`pxeforge.${name}=${value}`);
  };
  const digest = (name: string, value: string | undefined) => {
    if (value === undefined) return;
    if (!/^[0-9a-f]{64}$/.test(value))
      throw invalidInput('INVALID_INPUT', `pxeforge.${name}: ${JSON.stringify(value)} is not a sha256 digest`, 'nothing was changed');
    out.push(`pxeforge.${name}=${value}`);
  };
  text('image', parameters.image);
  text('version', parameters.version);
  if (parameters.generation !== undefined) {
    if (!Number.isSafeInteger(parameters.generation) || parameters.generation < 0)
      throw new Error(`generation ${parameters.generation} is not a generation number`);
    out.push(`pxeforge.generation=${parameters.generation}`);
  }
  text('group', parameters.group);
  text('channel', parameters.channel);
  digest('root_sha256', parameters.rootSha256);
  digest('nodefiles', parameters.nodeFiles);
  return out;
}
