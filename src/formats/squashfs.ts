import { run } from '../exec/run.js';
import { rootfsUrlPlaceholder, type OutputFormat } from './format.js';
import { netbootDracutConfig } from './netboot-initrd.js';
import {
  dracutModuleDir,
  dracutModuleSetup,
  dracutNodeFilesHook,
  dracutVerifyRootFile,
  dracutVerifyRootScript,
  rootMismatchLine,
} from './node-programs.js';
import { mksquashfsArgv } from './pack-argv.js';

/**
 * The root as one squashfs image that the node fetches over HTTP and mounts under an overlay
 * in RAM; a netboot initramfs built by dracut inside the image gets it there.
 */
export const squashfs: OutputFormat = {
  name: 'squashfs',
  hostTools: [
    { name: 'mksquashfs', check: { program: 'mksquashfs' }, package: 'squashfs-tools', neededFor: 'build', purpose: 'pack squashfs roots' },
    {
      name: 'unsquashfs',
      check: { program: 'unsquashfs' },
      package: 'squashfs-tools',
      neededFor: 'build',
      purpose: 'inspect squashfs roots',
    },
  ],
  artifacts: ['initrd.img', 'rootfs.squashfs'],
  packed: 'rootfs.squashfs',
  netbootInitrd: true,
  imageFiles: { '/etc/dracut.conf.d/90-pxeforge-netboot.conf': netbootDracutConfig },
  imagePrograms: {
    [`${dracutModuleDir}/module-setup.sh`]: dracutModuleSetup,
    [`${dracutModuleDir}/pxeforge-node-files.sh`]: dracutNodeFilesHook,
    [`${dracutModuleDir}/${dracutVerifyRootFile}`]: dracutVerifyRootScript,
  },
  keepsCapabilities: true,
  /** The root as one squashfs, /boot left empty (the kernel and initrd travel beside it). */
  async pack({ root, output, compression, epoch, tools }) {
    const { algorithm, level } = compression;
    await run(mksquashfsArgv({ root, output, algorithm, level, epoch, exclude: ['boot/*'] }), { ...tools, stage: 'pack' });
  },
  kernelParameters: [`root=live:${rootfsUrlPlaceholder}`, 'rd.live.image', 'rd.live.overlay.overlayfs=1', 'rd.neednet=1', 'ip=dhcp'],
  rootUrlArtifact: 'rootfs.squashfs',
  needsHttp: true,
  rootCheck: {
    name: 'built-in: root is an overlay over the squashfs image',
    run: 'findmnt -no FSTYPE /; findmnt -no FSTYPE /run/rootfsbase',
    expect: 'overlay\nsquashfs',
  },
  consoleFatalMarkers: [
    [/Failed to (fetch|download).*squashfs|curl: \(\d+\)|livenet.*fail/i, 'root image not fetched'],
    // The node refused its root image: its digest is not the one it was promoted with.
    [new RegExp(rootMismatchLine), 'root image digest mismatch'],
  ],
};
