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
    // Under TCG without the virtualisation extensions: a guest kernel that sees SVM or VMX loads
    // kvm_amd or kvm_intel, which takes tens of seconds under emulation (soft lockups), and no
    // boot test runs nested guests. Without SVM QEMU lowers the highest extended CPUID leaf
    // below the cache and address-size leaves, and the guest's userspace then fails: xlevel
    // keeps them.
    cpu: { kvm: 'host', tcg: 'max,-svm,-vmx,xlevel=0x80000008' },
  },
  serialConsole: 'ttyS0',
  bios: true,
  uefiPackage: 'ovmf',
  grub: { platform: 'x86_64-efi', package: 'grub-efi-amd64-bin' },
  foreignBuild: { binfmtHandler: 'qemu-x86_64', package: 'qemu-user-static' },
} as const satisfies Architecture;
