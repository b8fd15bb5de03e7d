import { UserError } from '../errors/user-error.js';
import type { BootLoader } from './boot-loader.js';
import { grub } from './grub.js';
import { ipxe } from './ipxe.js';
import { pxelinux } from './pxelinux.js';

/** Every boot loader by name, in rendering order. A new boot loader: its own file, and one line here. */
export const bootLoaders = {
  ipxe,
  pxelinux,
  grub,
} as const satisfies Record<string, BootLoader>;

export type BootLoaderName = keyof typeof bootLoaders;

export const bootLoaderNames = Object.keys(bootLoaders) as [BootLoaderName, ...BootLoaderName[]];

export function getBootLoader(name: string): BootLoader {
  if (!Object.hasOwn(bootLoaders, name)) {
    throw new UserError('UNKNOWN_BOOT_LOADER', `unknown boot loader \`${name}\``, {
      hint: `known boot loaders: ${bootLoaderNames.join(', ')}`,
    });
  }
  return bootLoaders[name as BootLoaderName];
}

/** The boot loader whose config a generation-relative file is, if any. */
export function bootLoaderOfConfig(file: string): BootLoader | undefined {
  return Object.values(bootLoaders).find((loader) => loader.ownsConfig(file));
}

/** Directories (tftp-root-relative) that hold entry points of any boot loader. */
export const entryDirs: readonly string[] = [...new Set(Object.values(bootLoaders).flatMap((loader) => loader.entryDirs))];

/** Whether an entry file is an EFI program (what UEFI firmware loads), for any boot loader. */
export function isEfiProgram(entry: string): boolean {
  return Object.values(bootLoaders).some((loader) => loader.isEfiProgram(entry));
}
