import { UserError } from '../errors/user-error.js';
import type { OutputFormat } from './format.js';
import { initramfs } from './initramfs.js';
import { squashfs } from './squashfs.js';

/** Every output format by name. A new format: its own file, and one line here. */
export const formats = {
  squashfs,
  initramfs,
} as const satisfies Record<string, OutputFormat>;

export type FormatName = keyof typeof formats;

/** The format names, for the recipe schema's enum. */
export const formatNames = Object.keys(formats) as [FormatName, ...FormatName[]];

export function getFormat(name: string): OutputFormat {
  if (!Object.hasOwn(formats, name)) {
    throw new UserError('UNKNOWN_FORMAT', `unknown output format \`${name}\``, { hint: `known formats: ${formatNames.join(', ')}` });
  }
  return formats[name as FormatName];
}
