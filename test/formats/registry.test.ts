import { describe, expect, it } from 'vitest';

import { UserError } from '../../src/errors/user-error.js';
import { rootfsUrlPlaceholder } from '../../src/formats/format.js';
import { formatNames, formats, getFormat, rootUrlParameters } from '../../src/formats/registry.js';
import { kernelCmdline } from '../../src/recipe/cmdline-size.js';
import type { Recipe } from '../../src/recipe/recipe.js';
import { recipeFileSchema } from '../../src/recipe/schema.js';

const recipe = (format: string, cmdline: string) => ({ output: { format }, kernel: { cmdline } }) as Recipe;

describe('the output format registry', () => {
  it('resolves every name to the descriptor of that name', () => {
    expect(formatNames).toEqual(['squashfs', 'initramfs']);
    for (const name of formatNames) {
      expect(getFormat(name)).toBe(formats[name]);
      expect(getFormat(name).name).toBe(name);
    }
  });

  it('refuses an unknown name with a clear error', () => {
    expect(() => getFormat('ext4')).toThrow(UserError);
    expect(() => getFormat('ext4')).toThrow('unknown output format `ext4`');
    expect(() => getFormat('toString')).toThrow('unknown output format');
  });

  it('names the parameters that carry a root URL', () => {
    expect(rootUrlParameters).toEqual(['root=live:']);
  });

  it('gives the recipe schema its enum', () => {
    const output = (format: string) => recipeFileSchema.safeParse({ name: 'x', output: { format } }).success;
    for (const name of formatNames) expect(output(name)).toBe(true);
    expect(output('ext4')).toBe(false);
  });
});

describe('squashfs', () => {
  const squashfs = getFormat('squashfs');

  it('adds the live root options before the recipe parameters', () => {
    expect(kernelCmdline(recipe('squashfs', 'console=ttyS0'))).toBe(
      `root=live:${rootfsUrlPlaceholder} rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp console=ttyS0`,
    );
    expect(kernelCmdline(recipe('squashfs', ''))).toBe(
      'root=live:{rootfs_url} rd.live.image rd.live.overlay.overlayfs=1 rd.neednet=1 ip=dhcp',
    );
  });

  it('is fetched over HTTP beside a netboot initrd', () => {
    expect(squashfs.artifacts).toEqual(['initrd.img', 'rootfs.squashfs']);
    expect(squashfs.packed).toBe('rootfs.squashfs');
    expect(squashfs.rootUrlArtifact).toBe('rootfs.squashfs');
    expect(squashfs.needsHttp).toBe(true);
    expect(squashfs.netbootInitrd).toBe(true);
    expect(squashfs.keepsCapabilities).toBe(true);
    expect(Object.keys(squashfs.imageFiles)).toEqual(['/etc/dracut.conf.d/90-pxeforge-netboot.conf']);
    expect(squashfs.imageFiles['/etc/dracut.conf.d/90-pxeforge-netboot.conf']).toContain(
      'dracutmodules=" bash systemd systemd-initrd dracut-systemd systemd-udevd systemd-journald systemd-tmpfiles base udev-rules kernel-modules kernel-network-modules network network-legacy url-lib img-lib dm fs-lib rootfs-block overlayfs dmsquash-live livenet "',
    );
  });

  it("adds pxeforge's dracut module, which applies the node's files chrooted in the new root before the switch", () => {
    expect(squashfs.imageFiles['/etc/dracut.conf.d/90-pxeforge-netboot.conf']).toContain('add_dracutmodules+=" pxeforge "');
    expect(Object.keys(squashfs.imagePrograms)).toEqual([
      '/usr/lib/dracut/modules.d/90pxeforge/module-setup.sh',
      '/usr/lib/dracut/modules.d/90pxeforge/pxeforge-node-files.sh',
      '/usr/lib/dracut/modules.d/90pxeforge/pxeforge-verify-root.sh',
    ]);
    const setup = squashfs.imagePrograms['/usr/lib/dracut/modules.d/90pxeforge/module-setup.sh']!;
    expect(setup).toMatch(/check\(\) \{\n\treturn 255\n\}/);
    expect(setup).toContain('inst_hook pre-pivot 90 "$moddir/pxeforge-node-files.sh"');
    const hook = squashfs.imagePrograms['/usr/lib/dracut/modules.d/90pxeforge/pxeforge-node-files.sh']!;
    expect(hook).toContain('cp -a -- /.pxeforge-node "$NEWROOT/.pxeforge-node"');
    expect(hook).toContain('chroot "$NEWROOT" /usr/lib/pxeforge/apply-node-files /.pxeforge-node / ||');
    expect(hook).toContain('rm -rf -- "$NEWROOT/.pxeforge-node" /.pxeforge-node');
    expect(hook).not.toMatch(/\bexit\b/);
  });

  it('checks that the root is an overlay over the squashfs image', () => {
    expect(squashfs.rootCheck).toEqual({
      name: 'built-in: root is an overlay over the squashfs image',
      run: 'findmnt -no FSTYPE /; findmnt -no FSTYPE /run/rootfsbase',
      expect: 'overlay\nsquashfs',
    });
    const [[marker, reason]] = squashfs.consoleFatalMarkers as [[RegExp, string]];
    expect(reason).toBe('root image not fetched');
    expect(marker.test('dracut-initqueue[312]: curl: (7) Failed to connect')).toBe(true);
  });
});

describe('initramfs', () => {
  const initramfs = getFormat('initramfs');

  it('adds nothing to the command line', () => {
    expect(kernelCmdline(recipe('initramfs', 'quiet'))).toBe('quiet');
    expect(kernelCmdline(recipe('initramfs', ''))).toBe('');
  });

  it('is the initrd itself, served without HTTP', () => {
    expect(initramfs.artifacts).toEqual(['initrd.img']);
    expect(initramfs.packed).toBe('initrd.img');
    expect(initramfs.rootUrlArtifact).toBeUndefined();
    expect(initramfs.needsHttp).toBe(false);
    expect(initramfs.netbootInitrd).toBe(false);
    expect(initramfs.keepsCapabilities).toBe(false);
    expect(initramfs.imageFiles).toEqual({});
    expect(initramfs.consoleFatalMarkers).toEqual([]);
  });

  it("boots through pxeforge's init, which applies the node's files before /sbin/init", () => {
    expect(Object.keys(initramfs.imagePrograms)).toEqual(['/usr/lib/pxeforge/init']);
    expect(initramfs.imagePrograms['/usr/lib/pxeforge/init']).toMatch(/^#!\/bin\/sh\n/);
  });

  it('checks that the root is in RAM', () => {
    expect(initramfs.rootCheck).toEqual({ name: 'built-in: root is in RAM', run: 'findmnt -no FSTYPE /', match: '^(rootfs|tmpfs)$' });
  });
});
