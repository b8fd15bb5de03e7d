/**
 * argv for the external programs of a build, as pure functions with each option beside its
 * value. Snapshot tests pin them: a changed flag shows up in review.
 */
import type { CompressionAlgorithm } from '../recipe/recipe.js';
import { chrootArgv } from '../rootfs/chroot-argv.js';

export { chrootArgv } from '../rootfs/chroot-argv.js';

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
