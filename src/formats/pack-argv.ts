/**
 * argv for the programs that pack an image root, as pure functions with each option beside
 * its value. Snapshot tests pin them: a changed flag shows up in review.
 */
import type { CompressionAlgorithm } from './format.js';

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
