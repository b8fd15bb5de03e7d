import type { Architecture } from './architecture.js';

/** 64-bit x86: a q35 machine, BIOS (iPXE in the NIC ROM) or UEFI (OVMF). */
export const amd64 = {
  name: 'amd64',
  hostTools: [
    {
      name: 'iPXE ROM (virtio)',
      // bookworm's ipxe-qemu installs it under /usr/lib/ipxe/qemu, trixie's under /usr/share/qemu.
      check: { anyFile: ['/usr/lib/ipxe/qemu/efi-virtio.rom', '/usr/share/qemu/efi-virtio.rom'] },
      package: 'ipxe-qemu',
      neededFor: 'boot test',
      purpose: 'network boot in QEMU (--via pxe)',
    },
  ],
  kernelName: 'x86_64',
  qemu: {
    binary: 'qemu-system-x86_64',
    package: 'qemu-system-x86',
    machine: 'q35',
    machineVersions: 'pc-q35-',
    cpu: { kvm: 'host', tcg: 'max' },
  },
  serialConsole: 'ttyS0',
  bios: true,
  uefiPackage: 'ovmf',
} as const satisfies Architecture;
