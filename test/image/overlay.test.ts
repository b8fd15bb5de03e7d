import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { applyOverlay } from '../../src/image/overlay.js';
import { resolveInRoot } from '../../src/rootfs/root-path.js';

let dir: string;
let root: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-overlay-'));
  root = path.join(dir, 'root');
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await mkdir(path.join(root, 'usr/lib'), { recursive: true });
  await symlink('usr/lib', path.join(root, 'lib'));
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n_chrony:x:100:101::/var/lib/chrony:/usr/sbin/nologin\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\n_chrony:x:101:\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function overlay(name: string, files: Record<string, string | { link: string } | { exec: string }>): Promise<string> {
  const base = path.join(dir, 'overlays', name);
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(base, file);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof content === 'string') await writeFile(target, content);
    else if ('link' in content) await symlink(content.link, target);
    else {
      await writeFile(target, content.exec);
      await chmod(target, 0o755);
    }
  }
  return base;
}

const noEvents = () => {};

describe('resolveInRoot', () => {
  it('follows links as the image would, never out of the root', async () => {
    await symlink('/etc', path.join(root, 'conf'));
    await symlink('../../../../../../', path.join(root, 'usr/lib/up'));
    expect(await resolveInRoot(root, '/conf/x')).toBe(path.join(root, 'etc/x'));
    expect(await resolveInRoot(root, '/lib/modules-load.d/a.conf')).toBe(path.join(root, 'usr/lib/modules-load.d/a.conf'));
    expect(await resolveInRoot(root, '/usr/lib/up/etc/y')).toBe(path.join(root, 'etc/y'));
    expect(await resolveInRoot(root, '/../../../etc/shadow')).toBe(path.join(root, 'etc/shadow'));
  });

  it('refuses link loops', async () => {
    await symlink('/b', path.join(root, 'a'));
    await symlink('/a', path.join(root, 'b'));
    await expect(resolveInRoot(root, '/a/x')).rejects.toThrow(/too many levels/);
  });
});

describe('applyOverlay', () => {
  it('copies files with their executable bit, owned by root', async () => {
    const src = await overlay('o', { 'etc/motd': 'hi\n', 'usr/local/bin/tool': { exec: '#!/bin/sh\n' } });
    expect(await applyOverlay(root, src, undefined, noEvents)).toBe(2);
    expect((await stat(path.join(root, 'etc/motd'))).mode & 0o777).toBe(0o644);
    expect((await stat(path.join(root, 'usr/local/bin/tool'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(root, 'etc/motd'))).uid).toBe(0);
  });

  it('keeps symlinks as symlinks, absolute ones included', async () => {
    const src = await overlay('o', { 'etc/localtime': { link: '/usr/share/zoneinfo/Europe/Berlin' } });
    await applyOverlay(root, src, undefined, noEvents);
    expect(await readlink(path.join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
  });

  it('a link to /etc in one overlay and a file written through it by the next land inside the image', async () => {
    const hostMarker = path.join('/etc', `pxeforge-test-${process.pid}`);
    const first = await overlay('first', { conf: { link: '/etc' } });
    const second = await overlay('second', { [`conf/pxeforge-test-${process.pid}`]: 'inside\n' });
    await applyOverlay(root, first, undefined, noEvents);
    await applyOverlay(root, second, undefined, noEvents);
    expect(await readFile(path.join(root, 'etc', `pxeforge-test-${process.pid}`), 'utf8')).toBe('inside\n');
    await expect(lstat(hostMarker)).rejects.toThrow();
    expect((await lstat(path.join(root, 'conf'))).isSymbolicLink()).toBe(true);
  });

  it('follows the merged-/usr links of the image', async () => {
    const src = await overlay('o', { 'lib/modules-load.d/rdma.conf': 'ib_umad\n' });
    await applyOverlay(root, src, undefined, noEvents);
    expect(await readFile(path.join(root, 'usr/lib/modules-load.d/rdma.conf'), 'utf8')).toBe('ib_umad\n');
    expect((await lstat(path.join(root, 'lib'))).isSymbolicLink()).toBe(true);
  });

  it('applies owner, group and mode from the overlay metadata', async () => {
    const src = await overlay('o', { 'etc/sudoers.d/admins': 'x\n', 'root/.ssh/config': 'y\n', 'var/lib/chrony/a': 'z\n' });
    const meta = path.join(dir, 'overlays/o.yaml');
    await writeFile(
      meta,
      `files:
  - { path: /etc/sudoers.d/admins, mode: "0440" }
  - { path: /root/.ssh, mode: "0700" }
  - { path: /var/lib/chrony, owner: _chrony, group: _chrony, recursive: true }
`,
    );
    await applyOverlay(root, src, meta, noEvents);
    expect((await stat(path.join(root, 'etc/sudoers.d/admins'))).mode & 0o777).toBe(0o440);
    expect((await stat(path.join(root, 'root/.ssh'))).mode & 0o777).toBe(0o700);
    const owned = await stat(path.join(root, 'var/lib/chrony/a'));
    expect([owned.uid, owned.gid]).toEqual([100, 101]);
  });

  it('metadata naming a path or user the image lacks is a clear error', async () => {
    const src = await overlay('o', { 'etc/a': 'x\n' });
    const meta = path.join(dir, 'overlays/o.yaml');
    await writeFile(meta, 'files:\n  - { path: /etc/missing, mode: "0600" }\n');
    await expect(applyOverlay(root, src, meta, noEvents)).rejects.toThrow('o.yaml: /etc/missing does not exist in the image');
    await writeFile(meta, 'files:\n  - { path: /etc/a, owner: nobody-here }\n');
    await expect(applyOverlay(root, src, meta, noEvents)).rejects.toThrow('/etc/a: no user `nobody-here` in the image');
  });

  it('a file where the image has a directory is a conflict, not a silent replace', async () => {
    await mkdir(path.join(root, 'etc/ssh'));
    const src = await overlay('o', { 'etc/ssh': 'not a dir\n' });
    await expect(applyOverlay(root, src, undefined, noEvents)).rejects.toThrow(/is a file in the overlay but a directory in the image/);
  });
});
