import { access } from 'node:fs/promises';

import which from 'which';

import { amd64 } from '../arches/amd64.js';
import type { HostTool } from '../distros/backend.js';
import { distros } from '../distros/registry.js';

export type { HostTool } from '../distros/backend.js';

/** What every registered distro backend needs to build its images, then what the rest of the pipeline needs. */
export const hostTools: readonly HostTool[] = [
  ...Object.values(distros).flatMap((distro) => distro.hostTools),
  { name: 'mksquashfs', check: { program: 'mksquashfs' }, package: 'squashfs-tools', neededFor: 'build', purpose: 'pack squashfs roots' },
  {
    name: 'unsquashfs',
    check: { program: 'unsquashfs' },
    package: 'squashfs-tools',
    neededFor: 'build',
    purpose: 'inspect squashfs roots',
  },
  { name: 'cpio', check: { program: 'cpio' }, package: 'cpio', neededFor: 'build', purpose: 'pack initramfs roots (newc)' },
  { name: 'zstd', check: { program: 'zstd' }, package: 'zstd', neededFor: 'build', purpose: 'zstd compression' },
  { name: 'xz', check: { program: 'xz' }, package: 'xz-utils', neededFor: 'build', purpose: 'xz compression' },
  { name: 'lz4', check: { program: 'lz4' }, package: 'lz4', neededFor: 'build', purpose: 'lz4 compression' },
  {
    name: 'mount',
    check: { program: 'mount' },
    package: 'mount',
    neededFor: 'build',
    purpose: 'bind /proc, /sys, /dev into the image root',
  },
  {
    name: 'chroot',
    check: { program: 'chroot' },
    package: 'coreutils',
    neededFor: 'build',
    purpose: 'run package scripts and hooks in the image root',
  },
  {
    name: amd64.qemu.binary,
    check: { program: amd64.qemu.binary },
    package: amd64.qemu.package,
    neededFor: 'boot test',
    purpose: 'boot the artifacts in a VM',
  },
  {
    name: 'iPXE ROM (virtio)',
    check: { file: '/usr/lib/ipxe/qemu/efi-virtio.rom' },
    package: 'ipxe-qemu',
    neededFor: 'boot test',
    purpose: 'network boot in QEMU (--via pxe)',
  },
  {
    name: 'pxelinux.0',
    check: { file: '/usr/lib/PXELINUX/pxelinux.0' },
    package: 'pxelinux',
    neededFor: 'promote',
    purpose: 'BIOS network boot loader for the PXE tree',
  },
  {
    name: 'ldlinux.c32',
    check: { file: '/usr/lib/syslinux/modules/bios/ldlinux.c32' },
    package: 'syslinux-common',
    neededFor: 'promote',
    purpose: 'pxelinux core module',
  },
  {
    name: 'iPXE (undionly.kpxe, ipxe.efi)',
    check: { file: '/usr/lib/ipxe/undionly.kpxe' },
    package: 'ipxe',
    neededFor: 'promote',
    purpose: 'iPXE loaders chained from the PXE tree',
  },
  {
    name: 'grub-script-check',
    check: { program: 'grub-script-check' },
    package: 'grub-common',
    neededFor: 'promote',
    purpose: 'check generated GRUB configs',
  },
  {
    name: 'getcap',
    check: { program: 'getcap' },
    package: 'libcap2-bin',
    neededFor: 'build',
    purpose: 'find file capabilities a cpio would drop',
  },
  { name: 'git', check: { program: 'git' }, package: 'git', neededFor: 'provenance', purpose: 'record the recipe commit in each version' },
];

export interface ToolStatus {
  tool: HostTool;
  found: string | undefined;
}

const sbinPath = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export async function checkHostTools(tools: readonly HostTool[] = hostTools, envPath = process.env.PATH ?? ''): Promise<ToolStatus[]> {
  const searchPath = [envPath, ...sbinPath].filter((part) => part !== '').join(':');
  return Promise.all(
    tools.map(async (tool) => {
      if ('file' in tool.check) {
        const file = tool.check.file;
        return {
          tool,
          found: await access(file).then(
            () => file,
            () => undefined,
          ),
        };
      }
      const found = await which(tool.check.program, { path: searchPath, nothrow: true });
      return { tool, found: found ?? undefined };
    }),
  );
}

/** The one command that installs every missing tool. */
export function installCommand(statuses: readonly ToolStatus[]): string | undefined {
  const packages = [...new Set(statuses.filter((status) => status.found === undefined).map((status) => status.tool.package))].sort();
  return packages.length === 0 ? undefined : `apt-get install -y ${packages.join(' ')}`;
}
