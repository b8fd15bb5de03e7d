import type { DistroBackend } from '../distros/backend.js';
import { UserError } from '../errors/user-error.js';
import { dracutModuleDir } from '../formats/node-programs.js';
import { run } from '../exec/run.js';
import { dracutArgv } from './argv.js';
import type { ConfigureTools } from './configure.js';
import { sha256 } from '../integrity/digest.js';
import { copyOutOfImage, readImageDir, readImageFile, removeImagePath } from '../rootfs/image-files.js';

/**
 * The kernel version installed in the image (the newest, if several). Every path below is
 * an image path, resolved in the image (image-files.ts): a `/boot` link never leads to the
 * build host's kernels.
 */
export async function installedKernel(root: string, kernelPackage: string, distro: DistroBackend): Promise<string> {
  const versions = (await readImageDir(root, '/boot'))
    .flatMap((name) => /^vmlinuz-(.+)$/.exec(name)?.[1] ?? [])
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = versions.at(-1);
  if (newest === undefined) {
    throw new UserError('NO_KERNEL', `no kernel in the image's /boot after installing \`${kernelPackage}\``, {
      hint: distro.kernelHint,
    });
  }
  return newest;
}

export async function copyKernel(root: string, version: string, target: string): Promise<void> {
  await copyOutOfImage(root, `/boot/vmlinuz-${version}`, target);
}

/**
 * What the netboot initrd depends on: kernel version, dracut version, dracut config and
 * pxeforge's dracut module. Nothing else in the image changes it, so an overlay change never
 * re-runs dracut.
 */
export async function initrdCacheKey(root: string, kernelVersion: string, distro: DistroBackend): Promise<string> {
  const confs = [];
  for (const name of (await readImageDir(root, '/etc/dracut.conf.d')).sort()) {
    confs.push(`${name}\n${(await readImageFile(root, `/etc/dracut.conf.d/${name}`)) ?? ''}`);
  }
  const module = [];
  for (const name of (await readImageDir(root, dracutModuleDir)).sort()) {
    module.push(`${name}\n${(await readImageFile(root, `${dracutModuleDir}/${name}`)) ?? ''}`);
  }
  const mainConf = (await readImageFile(root, '/etc/dracut.conf')) ?? '';
  const dracut = (await distro.installedPackages(root)).find((item) => item.name === 'dracut')?.version;
  if (dracut === undefined) {
    throw new UserError('NO_DRACUT', 'squashfs images need dracut in the image to build their netboot initramfs', {
      hint: 'add the `squashfs-netboot` package set (dracut, dracut-network, dracut-live, curl, isc-dhcp-client)',
    });
  }
  return sha256(['initrd-v2', kernelVersion, dracut, mainConf, ...confs, '--- pxeforge module', ...module].join('\n---\n'));
}

/** Builds the netboot initrd with dracut inside the image (run within withChroot). */
export async function buildNetbootInitrd(root: string, kernelVersion: string, target: string, tools: ConfigureTools): Promise<void> {
  const inside = '/tmp/pxeforge-initrd.img';
  try {
    await run(dracutArgv(root, kernelVersion, inside), { ...tools, stage: 'kernel' });
    await copyOutOfImage(root, inside, target);
  } finally {
    await removeImagePath(root, inside);
  }
}
