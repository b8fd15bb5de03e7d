import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { UserError } from '../../src/errors/user-error.js';
import { filesystemVerdict, networkFilesystems, requireLocalFilesystem } from '../../src/rootfs/filesystem-type.js';
import { copyFixtureRepo, runCli } from '../helpers/cli.js';

const isRoot = process.getuid?.() === 0;
const hasFuseOverlayfs = spawnSync('fuse-overlayfs', ['--version']).status === 0;

describe('filesystemVerdict', () => {
  it.each([
    [0x6969, 'NFS'],
    [0xfe534d42, 'SMB2'],
    [0xff534d42, 'CIFS'],
    [0x0bd00bd0, 'Lustre'],
    [0x47504653, 'GPFS (Spectrum Scale)'],
    [0x00c36400, 'CephFS'],
    [0x19830326, 'BeeGFS'],
    [0x01021997, '9p'],
    [0x65735546, 'FUSE'],
  ])('refuses 0x%s (%s)', (type, name) => {
    expect(filesystemVerdict(type)).toEqual({ name, local: false });
  });

  it('reads a magic reported as a negative (signed) f_type like its unsigned value', () => {
    expect(filesystemVerdict(0xff534d42 | 0)).toEqual({ name: 'CIFS', local: false });
    expect(0xff534d42 | 0).toBeLessThan(0);
  });

  it('accepts local file systems, and names an unknown one by its magic', () => {
    expect(filesystemVerdict(0xef53)).toEqual({ name: 'ext4', local: true });
    expect(filesystemVerdict(0x58465342)).toEqual({ name: 'xfs', local: true });
    expect(filesystemVerdict(0x01021994)).toEqual({ name: 'tmpfs', local: true });
    expect(filesystemVerdict(0x1234)).toEqual({ name: '0x00001234', local: true });
    for (const [magic] of networkFilesystems) expect(filesystemVerdict(magic).local).toBe(false);
  });
});

/** Real mounts: a tmpfs (local) and a FUSE file system made by fuse-overlayfs (as a network one would be). */
describe.skipIf(!isRoot)('requireLocalFilesystem on real mounts', () => {
  let dir: string;
  let fuse: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-fstype-'));
    await mkdir(path.join(dir, 'tmpfs'));
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', path.join(dir, 'tmpfs')]).status).toBe(0);
    if (hasFuseOverlayfs) {
      for (const sub of ['lower', 'upper', 'scratch', 'fuse']) await mkdir(path.join(dir, sub));
      const options = `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/scratch`;
      const mounted = spawnSync('fuse-overlayfs', ['-o', options, path.join(dir, 'fuse')]);
      expect(mounted.status, mounted.stderr.toString()).toBe(0);
      fuse = path.join(dir, 'fuse');
    }
  });
  afterAll(async () => {
    if (fuse !== undefined) spawnSync('umount', [fuse]);
    spawnSync('umount', [path.join(dir, 'tmpfs')]);
    await rm(dir, { recursive: true, force: true });
  });

  it('a directory on tmpfs passes (created when missing)', async () => {
    await expect(requireLocalFilesystem(path.join(dir, 'tmpfs', 'work'), 'the work directory', '`work`')).resolves.toEqual({
      name: 'tmpfs',
      local: true,
    });
    expect(await readdir(path.join(dir, 'tmpfs'))).toEqual(['work']);
  });

  it.skipIf(!hasFuseOverlayfs)('a directory on a FUSE mount is refused: what, where, which file system, and the setting', async () => {
    const work = path.join(fuse ?? '', 'work');
    const error = await requireLocalFilesystem(work, 'the work directory', '`work` in pxeforge.yaml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('WORK_ON_NETWORK_FS');
    expect((error as UserError).message).toBe(`the work directory ${work} is on FUSE, a network file system: overlayfs cannot use it`);
    expect((error as UserError).hint).toMatch(/^`work` in pxeforge\.yaml must name a directory on a local disk/);
  });

  it.skipIf(!hasFuseOverlayfs)(
    '`pxeforge build` refuses a work or cache directory on it before the build starts (nothing staged in the store)',
    async () => {
      const repo = await copyFixtureRepo();
      try {
        const local = path.join(dir, 'tmpfs');
        const onFuse = await runCli(['build', 'recipes/base.yaml', '--work-dir', path.join(fuse!, 'w'), '--cache-dir', local], repo.root);
        expect(onFuse.exitCode, onFuse.stderr).toBe(1);
        expect(onFuse.stderr).toContain(`the work directory ${path.join(fuse!, 'w')} is on FUSE`);
        expect(onFuse.stderr).toContain('hint: --cache-dir and --work-dir must name a directory on a local disk');
        const cacheOnFuse = await runCli(
          ['build', 'recipes/base.yaml', '--work-dir', path.join(local, 'w'), '--cache-dir', path.join(fuse!, 'cache')],
          repo.root,
        );
        expect(cacheOnFuse.exitCode, cacheOnFuse.stderr).toBe(1);
        expect(cacheOnFuse.stderr).toContain(`the package layer directory ${path.join(fuse!, 'cache', 'layers')} is on FUSE`);
        await expect(readdir(path.join(repo.root, 'var/store'))).rejects.toThrow(/ENOENT/);
      } finally {
        await repo.remove();
      }
    },
  );
});
