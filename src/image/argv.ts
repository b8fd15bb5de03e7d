/**
 * argv for the external programs of a build, as pure functions with each option beside its
 * value. Snapshot tests pin them: a changed flag shows up in review.
 */
import type { CompressionAlgorithm } from '../recipe/recipe.js';

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

/**
 * Every command run inside an image root: `chroot <root> env -i <image environment> argv`.
 * Nothing of the build host's environment reaches the image (no TMPDIR or HOME that exist
 * only on the host, no credentials a CI runner keeps in variables): only a fixed PATH, HOME and
 * locale, plus what the caller names. The one place a chroot command line is made.
 */
export function chrootArgv(root: string, argv: readonly string[], env: Record<string, string> = {}): string[] {
  return [
    'chroot',
    root,
    'env',
    '-i',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME=/root',
    'LC_ALL=C.UTF-8',
    ...Object.entries(env).map(([name, value]) => `${name}=${value}`),
    ...argv,
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

/**
 * The work root: `lower` (the cached package layer) stays untouched, changes go to `upper`.
 * metacopy=on keeps mode, owner and timestamp changes from copying whole files up.
 */
export function overlayMountArgv(lower: string, upper: string, work: string, target: string): string[] {
  const odd = [lower, upper, work].find((dir) => /[,:\\]/.test(dir));
  if (odd !== undefined)
    throw new Error(`cannot mount an overlay with \`${odd}\`: the path has a comma, colon or backslash (move the cache)`);
  return ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work},metacopy=on`, target];
}

/** Unpacks a tar layer, keeping owners, modes, ACLs and xattrs (file capabilities). */
export function tarExtractArgv(archive: string, root: string): string[] {
  return [
    'tar',
    '--extract',
    '--file',
    archive,
    '--directory',
    root,
    '--numeric-owner',
    '--preserve-permissions',
    '--xattrs',
    '--xattrs-include=*',
    '--acls',
  ];
}

export function dracutArgv(root: string, kernelVersion: string, output: string): string[] {
  return chrootArgv(root, ['dracut', '--force', '--no-hostonly', '--reproducible', '--kver', kernelVersion, output]);
}

/** `-e` comes last: mksquashfs takes every argument after it as an exclude. */
export function mksquashfsArgv(options: {
  root: string;
  output: string;
  algorithm: CompressionAlgorithm;
  level: number | undefined;
  epoch: number;
  processors?: number;
  exclude: readonly string[];
}): string[] {
  const compression = ['-comp', options.algorithm];
  if (options.level !== undefined && options.algorithm === 'zstd') compression.push('-Xcompression-level', String(options.level));
  if (options.level !== undefined && options.algorithm === 'gzip') compression.push('-Xcompression-level', String(options.level));
  return [
    'mksquashfs',
    options.root,
    options.output,
    '-noappend',
    '-no-progress',
    '-quiet',
    ...compression,
    '-mkfs-time',
    String(options.epoch),
    '-all-time',
    String(options.epoch),
    ...(options.processors === undefined ? [] : ['-processors', String(options.processors)]),
    ...(options.exclude.length > 0 ? ['-wildcards', '-e', ...options.exclude] : []),
  ];
}

/** newc cpio of the paths read on stdin (one per line, sorted), timestamps normalised. */
export function cpioArgv(root: string, output: string): string[] {
  return ['cpio', '--create', '--format=newc', '--reproducible', '--null', '--quiet', `--directory=${root}`, `--file=${output}`];
}

/** A compressor reading stdin and writing stdout, in a format the Linux kernel unpacks at boot. */
export function compressorArgv(algorithm: CompressionAlgorithm, level: number | undefined): string[] {
  switch (algorithm) {
    case 'zstd':
      return ['zstd', '--quiet', `-${level ?? 3}`, '--threads=0', '--stdout'];
    case 'gzip':
      return ['gzip', '--no-name', `-${level ?? 6}`, '--stdout'];
    case 'xz':
      // The kernel's xz decoder needs CRC32 checks.
      return ['xz', '--check=crc32', '--threads=0', '--stdout'];
    case 'lz4':
      // The kernel unpacks only the legacy lz4 frame format.
      return ['lz4', '-l', '-9', '-q', '--stdout'];
  }
}
