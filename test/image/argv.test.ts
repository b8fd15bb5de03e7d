import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { chrootArgv, dracutArgv, overlayMountArgv, tarExtractArgv } from '../../src/image/argv.js';
import { compressorArgv, cpioArgv, mksquashfsArgv } from '../../src/formats/pack-argv.js';

describe('argv builders', () => {
  it('mksquashfs puts -e last, after every option', () => {
    const argv = mksquashfsArgv({ root: '/r', output: '/o.sqfs', algorithm: 'zstd', level: 3, epoch: 1700000000, exclude: ['boot/*'] });
    expect(argv).toMatchInlineSnapshot(`
      [
        "mksquashfs",
        "/r",
        "/o.sqfs",
        "-noappend",
        "-no-progress",
        "-quiet",
        "-comp",
        "zstd",
        "-Xcompression-level",
        "3",
        "-mkfs-time",
        "1700000000",
        "-all-time",
        "1700000000",
        "-wildcards",
        "-e",
        "boot/*",
      ]
    `);
    expect(argv.indexOf('-e')).toBe(argv.length - 2);
    expect(mksquashfsArgv({ root: '/r', output: '/o', algorithm: 'xz', level: undefined, epoch: 1, exclude: [] })).not.toContain('-e');
  });

  it('a command in the image gets no variable of the build host, only the image environment and what is named', async () => {
    // A stand-in chroot that ignores the root runs the rest on this host: the env -i that follows is real.
    const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-chroot-'));
    try {
      await writeFile(path.join(dir, 'chroot'), '#!/bin/sh\nshift\nexec "$@"\n', { mode: 0o755 });
      const argv = chrootArgv('/r', ['/usr/bin/printenv'], { PXEFORGE_IMAGE: 'tiny' });
      const { stdout } = await promisify(execFile)(path.join(dir, argv[0]!), argv.slice(1), {
        env: { ...process.env, TMPDIR: '/only/on/the/host', AWS_SECRET_ACCESS_KEY: 'x', HOME: '/home/admin' },
      });
      expect(stdout.trim().split('\n').sort()).toEqual([
        'HOME=/root',
        'LC_ALL=C.UTF-8',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'PXEFORGE_IMAGE=tiny',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the work root is an overlay over the package layer', () => {
    expect(overlayMountArgv('/c/layers/packages-1', '/w/upper', '/w/ow', '/w/root')).toEqual([
      'mount',
      '-t',
      'overlay',
      'overlay',
      '-o',
      'lowerdir=/c/layers/packages-1,upperdir=/w/upper,workdir=/w/ow,metacopy=on',
      '/w/root',
    ]);
    expect(() => overlayMountArgv('/c/a,b', '/u', '/w', '/r')).toThrow(/comma, colon or backslash/);
  });

  it('tar layers unpack with owners, xattrs and ACLs', () => {
    expect(tarExtractArgv('/l.tar', '/r')).toEqual(
      expect.arrayContaining(['--numeric-owner', '--preserve-permissions', '--xattrs', '--acls']),
    );
  });

  it('cpio, dracut and the compressors', () => {
    expect(cpioArgv('/r', '/o.cpio')).toEqual([
      'cpio',
      '--create',
      '--format=newc',
      '--reproducible',
      '--null',
      '--quiet',
      '--directory=/r',
      '--file=/o.cpio',
    ]);
    expect(dracutArgv('/r', '6.1.0-1-amd64', '/tmp/i.img')).toEqual([
      'chroot',
      '/r',
      'env',
      '-i',
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOME=/root',
      'LC_ALL=C.UTF-8',
      'dracut',
      '--force',
      '--no-hostonly',
      '--reproducible',
      '--kver',
      '6.1.0-1-amd64',
      '/tmp/i.img',
    ]);
    expect(compressorArgv('zstd', 3)).toEqual(['zstd', '--quiet', '-3', '--threads=0', '--stdout']);
    expect(compressorArgv('gzip', undefined)).toEqual(['gzip', '--no-name', '-6', '--stdout']);
    expect(compressorArgv('xz', undefined)).toContain('--check=crc32');
    expect(compressorArgv('lz4', undefined)).toContain('-l');
  });
});
