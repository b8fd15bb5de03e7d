import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { configureImage } from '../../src/image/configure.js';
import { recipeRecord } from '../helpers/records.js';

/**
 * What the configure stage writes for the netboot initrd into a real directory tree. The only
 * command it runs in the image (systemctl enable of pxeforge's units) goes to a fake chroot.
 */
let base: string;
let root: string;
const savedPath = process.env.PATH ?? '';
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'pxeforge-configure-'));
  root = path.join(base, 'root');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(base, 'bin'));
  await writeFile(path.join(base, 'bin/chroot'), '#!/bin/sh\nexit 0\n');
  await chmod(path.join(base, 'bin/chroot'), 0o755);
  process.env.PATH = `${path.join(base, 'bin')}:${savedPath}`;
});
afterEach(async () => {
  process.env.PATH = savedPath;
  await rm(base, { recursive: true, force: true });
});

const recipe = (format: 'squashfs' | 'initramfs', netbootDrivers: string[]) =>
  recipeRecord({
    name: 'netboot',
    kernel: { package: 'linux-image-amd64', cmdline: '', netbootDrivers },
    output: { format, compression: { algorithm: 'zstd', level: 3 }, acceptCapabilityLoss: false },
  });
const tools = { emit: () => {}, signal: new AbortController().signal };
const confs = () => readdir(path.join(root, 'etc/dracut.conf.d')).catch(() => []);

describe("configure: the recipe's kernel.netbootDrivers", () => {
  it("squashfs: written after pxeforge's settings, as add_drivers", async () => {
    await configureImage(root, recipe('squashfs', ['ib_ipoib', 'mlx5_ib']), tools);
    expect(await confs()).toEqual(['90-pxeforge-netboot.conf', '91-pxeforge-recipe-drivers.conf']);
    expect(await readFile(path.join(root, 'etc/dracut.conf.d/91-pxeforge-recipe-drivers.conf'), 'utf8')).toContain(
      'add_drivers+=" ib_ipoib mlx5_ib "',
    );
  });

  it("squashfs without extra drivers: only pxeforge's settings", async () => {
    await configureImage(root, recipe('squashfs', []), tools);
    expect(await confs()).toEqual(['90-pxeforge-netboot.conf']);
  });

  it('initramfs (no netboot initrd): no dracut settings at all', async () => {
    await configureImage(root, recipe('initramfs', ['ib_ipoib']), tools);
    expect(await confs()).toEqual([]);
  });
});
