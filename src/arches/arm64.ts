import type { Architecture } from './architecture.js';

/** 64-bit Arm: QEMU's virt machine, UEFI only (AAVMF); the PL011 UART is the serial console. */
export const arm64 = {
  name: 'arm64',
  hostTools: [],
  kernelName: 'aarch64',
  qemu: {
    binary: 'qemu-system-aarch64',
    package: 'qemu-system-arm',
    machine: 'virt',
    machineVersions: 'virt-',
    cpu: { kvm: 'host', tcg: 'max' },
  },
  serialConsole: 'ttyAMA0',
  bios: false,
  uefiPackage: 'qemu-efi-aarch64',
} as const satisfies Architecture;
