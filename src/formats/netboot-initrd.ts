/**
 * The netboot initrd of formats whose root the node fetches (squashfs): built by dracut inside
 * the image (the build's kernel stage), from the settings below and the recipe's
 * `kernel.netbootDrivers`. See docs/building.md, "The netboot initrd".
 */

/**
 * The dracut modules of the netboot initrd, and nothing else: systemd as the initrd's init
 * (systemd, systemd-initrd, dracut-systemd, with udevd, journald and tmpfiles), udev, every wired
 * NIC driver (kernel-network-modules), DHCP with dhclient (network-legacy, which with systemd also
 * brings systemd's default .link file, so the NIC has the name it has in the root), curl
 * (url-lib), the squashfs root under an overlay in RAM (livenet, dmsquash-live, overlayfs) and
 * pxeforge's module (added below). dracut's shell init without systemd booted, but the root's
 * systemd then did not always reach multi-user (see docs/building.md).
 */
export const netbootDracutModules = [
  'bash',
  'systemd',
  'systemd-initrd',
  'dracut-systemd',
  'systemd-udevd',
  'systemd-journald',
  'systemd-tmpfiles',
  'base',
  'udev-rules',
  'kernel-modules',
  'kernel-network-modules',
  'network',
  'network-legacy',
  'url-lib',
  'img-lib',
  'dm',
  'fs-lib',
  'rootfs-block',
  'overlayfs',
  'dmsquash-live',
  'livenet',
] as const;

/**
 * Drivers besides those the modules install. Setting `drivers` keeps dracut from adding every
 * storage, file-system, crypto and input driver of the kernel; the NIC drivers come with
 * kernel-network-modules. Keyboards and USB host controllers stay, for a console on real hardware.
 * One list for every architecture: dracut installs the `drivers` a kernel has and passes over
 * the others (no check, unlike `add_drivers`), so amd64 kernels skip the arm64 SoC NICs and the
 * other way round. arm64: QEMU's virt machine puts its virtio devices on PCI (virtio_pci) or
 * MMIO (virtio_mmio); its PL011 serial console (ttyAMA0) is built into Debian's kernels.
 */
export const netbootDrivers = [
  'squashfs',
  'loop',
  'overlay',
  'virtio_pci',
  'virtio_net',
  'e1000',
  'e1000e',
  'igb',
  'igc',
  'ixgbe',
  'i40e',
  'ice',
  'bnxt_en',
  'tg3',
  'bnx2x',
  'mlx4_en',
  'mlx5_core',
  'r8169',
  'hns3',
  'nicvf',
  'thunder_bgx',
  'mvpp2',
  'virtio_mmio',
  'af_packet',
  'xhci_pci',
  'ehci_pci',
  'xhci_plat_hcd',
  'usbhid',
  'hid_generic',
  'atkbd',
  'i8042',
] as const;

/** dracut settings for a squashfs root fetched over HTTP (see docs/building.md: the netboot initrd). */
export const netbootDracutConfig = [
  '# pxeforge: initramfs that fetches the squashfs root over HTTP (root=live:<url>), with only what that needs',
  'hostonly="no"',
  `dracutmodules=" ${netbootDracutModules.join(' ')} "`,
  "# pxeforge: puts the node's own files into the new root before it switches (docs/node-files.md)",
  'add_dracutmodules+=" pxeforge "',
  `drivers=" ${netbootDrivers.join(' ')} "`,
  '# zstd, which the image has (squashfs-netboot): fast to unpack, also for the kernel under emulation',
  'compress="zstd -q -T0 -9"',
  '',
].join('\n');

/** The recipe's `kernel.netbootDrivers`, after pxeforge's settings (dracut reads its files in name order). */
export const netbootRecipeDriversFile = '/etc/dracut.conf.d/91-pxeforge-recipe-drivers.conf';

/** dracut settings adding a recipe's modules (names checked by the recipe schema) to the netboot initrd. */
export function netbootRecipeDriversConfig(drivers: readonly string[]): string {
  return `# pxeforge: the recipe's kernel.netbootDrivers\nadd_drivers+=" ${drivers.join(' ')} "\n`;
}
