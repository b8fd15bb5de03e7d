import { describe, expect, it } from 'vitest';

import {
  netbootDracutConfig,
  netbootDracutModules,
  netbootDrivers,
  netbootRecipeDriversConfig,
  netbootRecipeDriversFile,
} from '../../src/formats/netboot-initrd.js';
import { squashfs } from '../../src/formats/squashfs.js';

/** The dracut settings of the netboot initrd, line by line: a changed module or driver shows up here. */
const lines = netbootDracutConfig.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
const words = (name: string) => {
  const line = lines.find((l) => l.startsWith(`${name}=`) || l.startsWith(`${name}+=`));
  return line === undefined ? undefined : /^[a-z_]+\+?="(.*)"$/.exec(line)![1]!.trim().split(/\s+/);
};

describe('the netboot initrd (dracut settings in squashfs images)', () => {
  it('is the squashfs image file that dracut reads', () => {
    expect(squashfs.imageFiles['/etc/dracut.conf.d/90-pxeforge-netboot.conf']).toBe(netbootDracutConfig);
  });

  it('names its dracut modules exactly (dracutmodules=), so dracut adds no other', () => {
    expect(lines).toContain('hostonly="no"');
    expect(words('dracutmodules')).toEqual([...netbootDracutModules]);
    expect(lines.filter((line) => line.startsWith('dracutmodules'))).toHaveLength(1);
    expect(lines).not.toContainEqual(expect.stringMatching(/^dracutmodules\+=/));
  });

  it('fetches and mounts the root: network-legacy, livenet, dmsquash-live, overlayfs, url-lib, and keeps pxeforge', () => {
    for (const module of ['network-legacy', 'livenet', 'dmsquash-live', 'overlayfs', 'url-lib', 'kernel-network-modules', 'udev-rules'])
      expect(netbootDracutModules).toContain(module);
    expect(lines).toContain('add_dracutmodules+=" pxeforge "');
  });

  it('boots with systemd in the initrd (systemd, systemd-initrd, dracut-systemd, udevd), as the root does', () => {
    for (const module of ['systemd', 'systemd-initrd', 'dracut-systemd', 'systemd-udevd']) expect(netbootDracutModules).toContain(module);
  });

  it('has no NetworkManager, networkd, plymouth, graphics, storage stacks or keymaps', () => {
    for (const module of netbootDracutModules) {
      expect(module).not.toMatch(/network-manager|networkd|plymouth|drm|i18n|lvm|mdraid|crypt|btrfs|nfs|iscsi|multipath|resume/);
    }
  });

  it('lists its drivers exclusively (drivers=): the NIC drivers of real hardware, squashfs, loop, overlay', () => {
    expect(words('drivers')).toEqual([...netbootDrivers]);
    for (const driver of [
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
      'squashfs',
      'loop',
      'overlay',
    ])
      expect(netbootDrivers).toContain(driver);
    // Neither storage nor file systems beyond what the root needs, nor GPUs.
    for (const driver of netbootDrivers) expect(driver).not.toMatch(/^(ahci|nvme|sd_mod|ext4|xfs|btrfs|amdgpu|nouveau|i915)$/);
  });

  it('serves arm64 nodes from the same list: the virt machine (virtio over PCI or MMIO) and the arm64 server NICs', () => {
    // drivers= is installed without a check, so each kernel takes the ones it has; add_drivers would fail on the others.
    expect(lines.filter((line) => line.startsWith('add_drivers'))).toEqual([]);
    for (const driver of ['virtio_pci', 'virtio_mmio', 'virtio_net', 'hns3', 'nicvf', 'thunder_bgx', 'mvpp2', 'mlx5_core', 'xhci_plat_hcd'])
      expect(words('drivers')).toContain(driver);
  });

  it("installs no extra files: network-legacy brings systemd's default .link file when systemd is in", () => {
    expect(words('install_optional_items')).toBeUndefined();
    expect(words('install_items')).toBeUndefined();
  });

  it('compresses with zstd, with its options (dracut would otherwise pick level 15)', () => {
    expect(lines).toContain('compress="zstd -q -T0 -9"');
  });

  it("a recipe's netbootDrivers come after pxeforge's settings, added to add_drivers", () => {
    expect(netbootRecipeDriversFile).toBe('/etc/dracut.conf.d/91-pxeforge-recipe-drivers.conf');
    expect(netbootRecipeDriversFile.localeCompare('/etc/dracut.conf.d/90-pxeforge-netboot.conf')).toBe(1);
    expect(netbootRecipeDriversConfig(['ib_ipoib', 'mlx5_ib'])).toBe(
      '# pxeforge: the recipe\'s kernel.netbootDrivers\nadd_drivers+=" ib_ipoib mlx5_ib "\n',
    );
  });
});
