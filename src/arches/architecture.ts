import type { HostTool } from '../exec/host-tool.js';
/**
 * What pxeforge needs to know about a CPU architecture: its names in Debian, the kernel and
 * QEMU, how the boot test runs a machine of it, and which boot firmware its nodes have.
 */
export interface Architecture {
  /** What a boot test of this architecture needs on the host besides QEMU itself (doctor checks them). */
  hostTools: readonly HostTool[];
  /** Debian architecture name (`dpkg --print-architecture`), as recipes and node groups write it. */
  name: string;
  /** Kernel and QEMU name (`uname -m`; the `architecture` of QEMU firmware descriptors). */
  kernelName: string;
  qemu: {
    /** QEMU system emulator for this architecture. */
    binary: string;
    /** Debian package that installs it. */
    package: string;
    /** Machine type passed to `-machine`. */
    machine: string;
    /** Prefix of the versioned names of that machine type (firmware descriptors list those, e.g. `pc-q35-*`). */
    machineVersions: string;
    /** `-cpu` under each accelerator. */
    cpu: { kvm: string; tcg: string };
  };
  /** Serial console device for the kernel command line (`console=<device>,115200`). */
  serialConsole: string;
  /** Whether its nodes may boot with BIOS (legacy PXE); otherwise UEFI only. */
  bios: boolean;
  /** UEFI firmware for the boot test: found through QEMU's firmware descriptors (firmware.ts); this package installs it. */
  uefiPackage: string;
  /**
   * How a root of this architecture is built on a host of another one: its programs run
   * through the kernel's binfmt_misc and Debian's qemu-user-static, whose binfmt handler
   * (registered by binfmt-support) has this name.
   */
  foreignBuild: { binfmtHandler: string; package: string };
  /**
   * GRUB's EFI platform (its module directory, `/usr/lib/grub/<platform>`): a site's GRUB net
   * image for these nodes is `grub/<platform>/core.efi` in the TFTP root (grub-mknetdir), from
   * this Debian package of GRUB's modules.
   */
  grub: { platform: string; package: string };
}
