import type { Architecture } from './architecture.js';

/** 64-bit Arm: QEMU's virt machine, UEFI only (AAVMF); the PL011 UART is the serial console. */
export const arm64 = {
  name: 'arm64',
  hostTools: [
    {
      name: 'AAVMF (UEFI for the virt machine)',
      // The boot test finds it through QEMU's firmware descriptors (firmware.ts); this is where Debian installs it.
      check: { file: '/usr/share/AAVMF/AAVMF_CODE.fd' },
      package: 'qemu-efi-aarch64',
      neededFor: 'boot test',
      purpose: 'boot arm64 nodes with UEFI in QEMU',
    },
  ],
  kernelName: 'aarch64',
  qemu: {
    binary: 'qemu-system-aarch64',
    package: 'qemu-system-arm',
    machine: 'virt',
    machineVersions: 'virt-',
    // Under TCG, `max` authenticates pointers with the architected QARMA5 cipher, which QEMU
    // computes slowly: tiny-arm64 reached SSH 58 s after start with it, 18 s with QEMU's own
    // cheaper algorithm (pauth-impdef), as with cortex-a57 or neoverse-n1 (docs/arm64.md).
    cpu: { kvm: 'host', tcg: 'max,pauth-impdef=on' },
  },
  serialConsole: 'ttyAMA0',
  bios: false,
  uefiPackage: 'qemu-efi-aarch64',
  grub: { platform: 'arm64-efi', package: 'grub-efi-arm64-bin' },
  foreignBuild: { binfmtHandler: 'qemu-aarch64', package: 'qemu-user-static' },
} as const satisfies Architecture;
