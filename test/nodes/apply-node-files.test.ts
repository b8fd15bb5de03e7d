import { copyFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { applyNodeFilesScript, nodeInitProgram, nodeInitScript } from '../../src/formats/node-programs.js';
import { applyNodeFilesProgram, nodeStagingDir } from '../../src/nodes/node-file.js';
import { makeNodeArchive, type ArchiveEntry } from '../helpers/node-archive.js';

/**
 * The apply program as a node runs it: the archive unpacked by cpio into the node's root
 * (as the kernel unpacks a second initrd), then `sh apply-node-files <root>/.pxeforge-node <root>`.
 */
let dir: string;
let node: string;
let program: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-apply-'));
  node = path.join(dir, 'node');
  for (const sub of ['etc/ssh', 'etc/munge', 'var/lib', 'usr/share']) await mkdir(path.join(node, sub), { recursive: true, mode: 0o755 });
  await writeFile(path.join(node, 'etc/hostname'), 'image\n');
  program = path.join(dir, 'apply-node-files');
  await writeFile(program, applyNodeFilesScript, { mode: 0o755 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function deliver(entries: ArchiveEntry[]): Promise<{ exitCode: number | undefined; stderr: string }> {
  const archive = path.join(dir, 'node.cpio');
  await makeNodeArchive(entries, archive);
  await execa('sh', ['-c', 'cpio -idm --quiet < "$1"', 'unpack', archive], { cwd: node });
  const result = await execa('sh', [program, path.join(node, nodeStagingDir), node], { reject: false });
  return { exitCode: result.exitCode, stderr: result.stderr };
}

const mode = async (file: string) => (await lstat(path.join(node, file))).mode & 0o7777;
const owner = async (file: string) => {
  const info = await lstat(path.join(node, file));
  return `${info.uid}:${info.gid}`;
};

describe('apply-node-files', () => {
  it('puts files in place with owner and mode, makes missing directories, applies explicit ones, removes the staging', async () => {
    const result = await deliver([
      { path: '/etc', kind: 'directory', uid: 0, gid: 0, mode: 0o700 },
      { path: '/etc/hostname', kind: 'file', content: 'cn001\n', uid: 0, gid: 0, mode: 0o644 },
      { path: '/etc/munge', kind: 'directory', uid: 998, gid: 998, mode: 0o700, explicit: true },
      { path: '/etc/munge/munge.key', kind: 'file', content: 'secret', uid: 998, gid: 998, mode: 0o400 },
      { path: '/var/lib/node', kind: 'directory', uid: 1000, gid: 1000, mode: 0o750 },
      { path: '/var/lib/node/tuning', kind: 'file', content: 'x', uid: 1000, gid: 1000, mode: 0o600 },
    ]);
    expect(result).toEqual({ exitCode: 0, stderr: '' });
    expect(await readFile(path.join(node, 'etc/hostname'), 'utf8')).toBe('cn001\n');
    expect(await readFile(path.join(node, 'etc/munge/munge.key'), 'utf8')).toBe('secret');
    expect([await owner('etc/munge/munge.key'), await mode('etc/munge/munge.key')]).toEqual(['998:998', 0o400]);
    // An existing directory keeps its owner and mode unless the archive lists it as explicit.
    expect(await mode('etc')).toBe(0o755);
    expect([await owner('etc/munge'), await mode('etc/munge')]).toEqual(['998:998', 0o700]);
    // A missing directory is made with the staged owner and mode.
    expect([await owner('var/lib/node'), await mode('var/lib/node')]).toEqual(['1000:1000', 0o750]);
    expect([await owner('var/lib/node/tuning'), await mode('var/lib/node/tuning')]).toEqual(['1000:1000', 0o600]);
    await expect(stat(path.join(node, nodeStagingDir))).rejects.toThrow('ENOENT');
    expect((await execa('find', [node, '-name', '*.pxeforge-new'])).stdout).toBe('');
  });

  it('replaces a link at a file path by the file, never writing through the link', async () => {
    await writeFile(path.join(dir, 'outside'), 'untouched');
    await symlink(path.join(dir, 'outside'), path.join(node, 'etc/motd'));
    await symlink(path.join(dir, 'outside'), path.join(node, 'etc/motd.pxeforge-new'));
    const result = await deliver([{ path: '/etc/motd', kind: 'file', content: 'node motd', uid: 0, gid: 0, mode: 0o644 }]);
    expect(result.exitCode).toBe(0);
    expect((await lstat(path.join(node, 'etc/motd'))).isFile()).toBe(true);
    expect(await readFile(path.join(node, 'etc/motd'), 'utf8')).toBe('node motd');
    expect(await readFile(path.join(dir, 'outside'), 'utf8')).toBe('untouched');
  });

  it('leaves an existing link to a directory alone and puts files below it', async () => {
    await mkdir(path.join(node, 'usr/share/doc'));
    await symlink('../usr/share/doc', path.join(node, 'etc/doc'));
    const result = await deliver([
      { path: '/etc/doc', kind: 'directory', uid: 0, gid: 0, mode: 0o700 },
      { path: '/etc/doc/readme', kind: 'file', content: 'r', uid: 0, gid: 0, mode: 0o644 },
    ]);
    expect(result.exitCode).toBe(0);
    expect(await readlink(path.join(node, 'etc/doc'))).toBe('../usr/share/doc');
    expect(await readFile(path.join(node, 'usr/share/doc/readme'), 'utf8')).toBe('r');
  });

  it('fails with a pxeforge message when a file would replace a directory, and still removes the staging', async () => {
    const result = await deliver([{ path: '/etc/ssh', kind: 'file', content: 'x', uid: 0, gid: 0, mode: 0o644 }]);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('pxeforge: node files: /etc/ssh is a directory on the node');
    expect((await lstat(path.join(node, 'etc/ssh'))).isDirectory()).toBe(true);
    await expect(stat(path.join(node, nodeStagingDir))).rejects.toThrow('ENOENT');
  });

  it('refuses an explicit-dirs line that leaves the root', async () => {
    const archive = path.join(dir, 'node.cpio');
    await makeNodeArchive([{ path: '/etc', kind: 'directory', uid: 0, gid: 0, mode: 0o700 }], archive);
    await execa('sh', ['-c', 'cpio -idm --quiet < "$1"', 'unpack', archive], { cwd: node });
    await writeFile(path.join(node, nodeStagingDir, 'explicit-dirs'), '/etc/../..\n');
    const result = await execa('sh', [program, path.join(node, nodeStagingDir), node], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('pxeforge: node files: explicit-dirs: /etc/../.. is not a normalized path');
    expect(await mode('etc')).toBe(0o755);
  });

  it('takes exactly a staging directory and a root', async () => {
    const result = await execa('sh', [program, path.join(node, 'missing'), node], { reject: false });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^pxeforge: node files: .*missing is not a staging directory$/);
    expect((await execa('sh', [program], { reject: false })).exitCode).toBe(1);
  });
});

describe('the initramfs /init', () => {
  /** A root with busybox's sh and tools, pxeforge's programs, and an /sbin/init that records its arguments. */
  async function initramfsRoot(): Promise<string> {
    for (const sub of ['bin', 'sbin', 'usr/lib/pxeforge', 'etc/ssh']) await mkdir(path.join(node, sub), { recursive: true });
    await copyFile('/usr/bin/busybox', path.join(node, 'bin/busybox'));
    await execa('chroot', [node, '/bin/busybox', '--install', '-s', '/bin']);
    await writeFile(path.join(node, applyNodeFilesProgram), applyNodeFilesScript, { mode: 0o755 });
    await writeFile(path.join(node, nodeInitProgram), nodeInitScript, { mode: 0o755 });
    await writeFile(path.join(node, 'sbin/init'), '#!/bin/sh\necho "$$ $*" > /init-ran\n', { mode: 0o755 });
    await symlink(nodeInitProgram, path.join(node, 'init'));
    return node;
  }

  it('applies the staged files, then execs /sbin/init with its arguments in the same process', async () => {
    await initramfsRoot();
    const archive = path.join(dir, 'node.cpio');
    await makeNodeArchive([{ path: '/etc/hostname', kind: 'file', content: 'cn001\n', uid: 0, gid: 0, mode: 0o644 }], archive);
    await execa('sh', ['-c', 'cpio -idm --quiet < "$1"', 'unpack', archive], { cwd: node });
    const result = await execa('chroot', [node, '/bin/sh', '-c', 'echo $$; exec /init splash quiet']);
    expect(result.stderr).toBe('');
    expect(await readFile(path.join(node, 'init-ran'), 'utf8')).toBe(`${result.stdout.trim()} splash quiet\n`);
    expect(await readFile(path.join(node, 'etc/hostname'), 'utf8')).toBe('cn001\n');
    await expect(stat(path.join(node, nodeStagingDir))).rejects.toThrow('ENOENT');
  });

  it('reports a failure on the console and boots on', async () => {
    await initramfsRoot();
    const archive = path.join(dir, 'node.cpio');
    await makeNodeArchive([{ path: '/etc/ssh', kind: 'file', content: 'x', uid: 0, gid: 0, mode: 0o644 }], archive);
    await execa('sh', ['-c', 'cpio -idm --quiet < "$1"', 'unpack', archive], { cwd: node });
    const result = await execa('chroot', [node, '/init']);
    expect(result.stderr).toBe(
      'pxeforge: node files: /etc/ssh is a directory on the node\npxeforge: node files: not applied (exit 1); booting without them',
    );
    expect(await readFile(path.join(node, 'init-ran'), 'utf8')).toMatch(/^\d+ \n$/);
    await expect(stat(path.join(node, nodeStagingDir))).rejects.toThrow('ENOENT');
  });

  it('without an archive, only execs /sbin/init', async () => {
    await initramfsRoot();
    const result = await execa('chroot', [node, '/init', 'single']);
    expect(result.stderr).toBe('');
    expect(await readFile(path.join(node, 'init-ran'), 'utf8')).toMatch(/^\d+ single\n$/);
  });
});
