import { execFileSync } from 'node:child_process';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { changedNodePaths, packNodeArchive, readNodeArchive } from '../../src/nodes/archive.js';
import { readCpio, writeCpio } from '../../src/nodes/cpio.js';
import type { NodeFile, NodeFiles } from '../../src/nodes/node-file.js';
import { nodeFile } from '../helpers/node-archive.js';

const file = nodeFile;

const node = (files: NodeFile[], host = 'cn001'): NodeFiles => ({ host, mac: '52:54:00:00:10:01', group: 'compute', files });

const sample = node([
  { path: '/etc', kind: 'directory', uid: 0, gid: 0, mode: 0o755, source: 'test', secret: false },
  file('/etc/hostname', 'cn001\n'),
  { path: '/etc/munge', kind: 'directory', uid: 105, gid: 107, mode: 0o700, source: 'test', secret: false, explicit: true },
  file('/etc/munge/munge.key', 'SECRET-KEY-BYTES', { uid: 105, gid: 107, mode: 0o400, secret: true }),
  file('/etc/ssh/ssh_host_ed25519_key', 'private', { mode: 0o600, secret: true }),
  file('/usr/local/bin/tune', '#!/bin/sh\necho hi\n', { mode: 0o4755 }),
  file('/etc/empty', ''),
]);

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const tempDir = async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-cpio-'));
  dirs.push(dir);
  return dir;
};

describe('node archive (newc cpio)', () => {
  it('is deterministic: sorted names, mtime 0, sequential inodes, nlink 2 for directories, names padded to 4 bytes', () => {
    const a = packNodeArchive(sample);
    const b = packNodeArchive({ ...sample, files: [...sample.files].reverse() });
    expect(a.bytes.equals(b.bytes)).toBe(true);
    expect(a.sha256).toBe(b.sha256);
    expect(a.size).toBe(a.bytes.length);
    expect(a.size % 4).toBe(0);
    const names: string[] = [];
    let offset = 0;
    let ino = 1;
    for (;;) {
      const head = a.bytes.toString('ascii', offset, offset + 110);
      expect(head.slice(0, 6)).toBe('070701');
      const f = (i: number) => Number.parseInt(head.slice(6 + i * 8, 14 + i * 8), 16);
      const nameSize = f(11);
      const name = a.bytes.toString('utf8', offset + 110, offset + 110 + nameSize - 1);
      expect(a.bytes[offset + 110 + nameSize - 1]).toBe(0);
      expect((110 + nameSize + ((4 - ((110 + nameSize) % 4)) % 4)) % 4).toBe(0);
      expect(f(5)).toBe(0); // mtime
      if (name === 'TRAILER!!!') break;
      expect(f(0)).toBe(ino++);
      expect(f(4)).toBe((f(1) & 0o170000) === 0o040000 ? 2 : 1);
      names.push(name);
      const size = f(6);
      offset += 110 + nameSize + ((4 - ((110 + nameSize) % 4)) % 4) + size + ((4 - (size % 4)) % 4);
    }
    expect(names).toEqual([...names].sort());
    expect(names.slice(0, 3)).toEqual(['.pxeforge-node', '.pxeforge-node/explicit-dirs', '.pxeforge-node/root']);
    // Parents the node files do not name are added (the kernel makes no missing parent).
    expect(names).toContain('.pxeforge-node/root/usr/local/bin');
    expect(names).toContain('.pxeforge-node/root/etc/ssh');
  });

  it('a different file gives a different archive', () => {
    const other = node(sample.files.map((f) => (f.path === '/etc/hostname' ? file('/etc/hostname', 'cn002\n') : f)));
    expect(packNodeArchive(other).sha256).not.toBe(packNodeArchive(sample).sha256);
  });

  it('refuses a path that is not normalized', () => {
    for (const bad of ['etc/x', '/etc/../x', '/etc//x', '/./x', '/']) expect(() => packNodeArchive(node([file(bad, 'x')]))).toThrow();
  });

  it('GNU cpio lists it and extracts it (as root) with every owner, mode and content', async () => {
    const archive = packNodeArchive(sample);
    const dir = await tempDir();
    const listing = execFileSync('cpio', ['-t', '--quiet'], { input: archive.bytes }).toString().trim().split('\n');
    expect(listing).toContain('.pxeforge-node/root/etc/munge/munge.key');
    execFileSync('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames'], { input: archive.bytes, cwd: dir });
    const staged = path.join(dir, '.pxeforge-node');
    expect((await lstat(staged)).mode & 0o7777).toBe(0o700);
    for (const f of sample.files) {
      const info = await lstat(path.join(staged, 'root', f.path));
      expect(info.isDirectory()).toBe(f.kind === 'directory');
      expect(info.mode & 0o7777).toBe(f.mode);
      expect([info.uid, info.gid]).toEqual([f.uid, f.gid]);
      if (f.kind === 'file') expect((await readFile(path.join(staged, 'root', f.path))).equals(f.content!)).toBe(true);
    }
    expect((await lstat(path.join(staged, 'root/usr/local'))).mode & 0o7777).toBe(0o755);
    expect(await readFile(path.join(staged, 'explicit-dirs'), 'utf8')).toBe('/etc/munge\n');
  });

  it('reads back what it wrote', () => {
    const files = readNodeArchive(packNodeArchive(sample).bytes);
    expect(files.get('/etc/munge')).toMatchObject({ kind: 'directory', uid: 105, gid: 107, mode: 0o700, explicit: true });
    expect(files.get('/etc/munge/munge.key')?.content?.toString()).toBe('SECRET-KEY-BYTES');
    expect(files.get('/usr/local/bin/tune')?.mode).toBe(0o4755);
    expect(files.get('/etc/ssh')).toMatchObject({ kind: 'directory', mode: 0o755 });
    const changed = node(
      sample.files
        .filter((f) => f.path !== '/etc/empty')
        .map((f) => (f.path === '/etc/hostname' ? { ...f, mode: 0o600 } : f))
        .concat(file('/etc/motd', 'hi')),
    );
    expect(changedNodePaths(files, readNodeArchive(packNodeArchive(changed).bytes))).toEqual(['/etc/empty', '/etc/hostname', '/etc/motd']);
  });

  it("reads GNU cpio's newc output", async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'a/b'), { recursive: true });
    await writeFile(path.join(dir, 'a/b/data'), Buffer.from([0, 1, 2, 3, 4]));
    await writeFile(path.join(dir, 'a/five'), 'hello');
    await chmod(path.join(dir, 'a/five'), 0o640);
    await chown(path.join(dir, 'a/five'), 12, 34);
    const list = 'a\na/b\na/b/data\na/five\n';
    const bytes = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { input: list, cwd: dir });
    const entries = readCpio(bytes);
    expect(entries.map((e) => [e.name, e.kind])).toEqual([
      ['a', 'directory'],
      ['a/b', 'directory'],
      ['a/b/data', 'file'],
      ['a/five', 'file'],
    ]);
    expect(entries[2]!.content).toEqual(Buffer.from([0, 1, 2, 3, 4]));
    expect(entries[3]).toMatchObject({ mode: 0o640, uid: 12, gid: 34, content: Buffer.from('hello') });
  });

  it('refuses what is not a newc archive, or is cut short', () => {
    const bytes = writeCpio([{ name: 'x', kind: 'file', mode: 0o644, uid: 0, gid: 0, content: Buffer.from('abc') }]);
    expect(() => readCpio(bytes.subarray(0, bytes.length - 20))).toThrow(/trailer|past the end/);
    expect(() => readCpio(Buffer.from('070707000000'.padEnd(200, '0')))).toThrow(/not a newc header/);
    expect(() => readNodeArchive(bytes)).toThrow(/not a node archive/);
  });
});
