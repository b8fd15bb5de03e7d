/**
 * argv for mmdebstrap and apt, as pure functions with each option beside its value.
 * Snapshot tests pin them: a changed flag shows up in review.
 */
import { chrootArgv } from '../../rootfs/chroot-argv.js';

export function mmdebstrapArgv(options: { release: string; arch: string; variant: string; target: string; sourcesList: string }): string[] {
  return [
    'mmdebstrap',
    '--mode=root',
    `--variant=${options.variant}`,
    `--architectures=${options.arch}`,
    '--format=tar',
    // Packages recommended by the bootstrap set stay out, as with every later install.
    '--aptopt=APT::Install-Recommends "false"',
    options.release,
    options.target,
    options.sourcesList,
  ];
}

/** Runs inside the chroot. INITRD=No stops the kernel's postinst from building an initrd nobody boots. */
export function aptInstallArgv(root: string, packages: readonly string[], sourceDateEpoch: number): string[] {
  return chrootArgv(
    root,
    [
      'apt-get',
      'install',
      '--yes',
      '--no-install-recommends',
      // A locked build pins versions that may be older than those in the bootstrap layer.
      '--allow-downgrades',
      '-o',
      'Dpkg::Options::=--force-confold',
      '-o',
      'Dpkg::Use-Pty=0',
      '--',
      ...packages,
    ],
    { DEBIAN_FRONTEND: 'noninteractive', INITRD: 'No', SOURCE_DATE_EPOCH: String(sourceDateEpoch) },
  );
}

export function aptUpdateArgv(root: string, sourceDateEpoch: number): string[] {
  return chrootArgv(root, ['apt-get', 'update', '-o', 'Dpkg::Use-Pty=0'], { SOURCE_DATE_EPOCH: String(sourceDateEpoch) });
}

export function aptCleanArgv(root: string): string[] {
  return chrootArgv(root, ['apt-get', 'clean']);
}
