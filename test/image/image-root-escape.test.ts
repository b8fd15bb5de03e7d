import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { withChroot } from '../../src/rootfs/chroot.js';
import { configureImage } from '../../src/image/configure.js';
import { debian } from '../../src/distros/debian/debian.js';
import { readDpkgStatus } from '../../src/distros/debian/dpkg-status.js';
import { cleanImage } from '../../src/image/hygiene.js';
import { runHooks } from '../../src/image/hooks.js';
import { copyKernel, initrdCacheKey, installedKernel } from '../../src/image/kernel.js';
import { applyOverlay } from '../../src/image/overlay.js';
import { recipeRecord } from '../helpers/records.js';

/**
 * A fabricated image whose paths are absolute symlinks to a "victim" directory outside
 * the root. Every stage must resolve them inside the image; the victim must not change.
 */
let base: string;
let victim: string;
let root: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'pxeforge-escape-'));
  victim = path.join(base, 'victim');
  root = path.join(base, 'root');
  await mkdir(root);
  await lay(victim, layout('host'));
  // A fake chroot: hooks and configure may call it; it only records that it ran.
  await mkdir(path.join(base, 'bin'));
  await writeFile(path.join(base, 'bin/chroot'), '#!/bin/sh\nexit 0\n');
  await chmod(path.join(base, 'bin/chroot'), 0o755);
  // A fake mount: records where it was asked to mount, mounts nothing.
  await writeFile(path.join(base, 'bin/mount'), `#!/bin/sh\nfor last; do :; done\necho "$last" >> ${path.join(base, 'mounts.log')}\n`);
  await chmod(path.join(base, 'bin/mount'), 0o755);
  process.env.PATH = `${path.join(base, 'bin')}:${savedPath}`;
});
const savedPath = process.env.PATH ?? '';
afterEach(async () => {
  process.env.PATH = savedPath;
  await rm(base, { recursive: true, force: true });
});

/** What a build host (tag `host`) or the image's own view of the link targets (`image`) holds. */
function layout(tag: string): Record<string, string> {
  return {
    'etc/hostname': `${tag}name\n`,
    'etc/hosts': `10.0.0.1 ${tag}\n`,
    'etc/timezone': 'Etc/UTC\n',
    'etc/localtime': `TZif ${tag}\n`,
    'etc/default/locale': 'LANG=C\n',
    'etc/locale.gen': `# ${tag}\n`,
    'etc/machine-id': '0123456789abcdef0123456789abcdef\n',
    'etc/resolv.conf': 'nameserver 192.0.2.53\n',
    'etc/passwd': 'root:x:0:0::/root:/bin/sh\n',
    'etc/group': 'root:x:0:\n',
    'etc/ssh/ssh_host_ed25519_key': '-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n',
    'etc/ssh/sshd_config': 'Port 22\n',
    'etc/dracut.conf': `# ${tag}\n`,
    'etc/dracut.conf.d/10-site.conf': `# ${tag}\n`,
    'etc/systemd/system/site.service': '[Unit]\n',
    'etc/systemd/system/ssh.service.d/site.conf': '[Service]\n',
    'var/tmp/leftover': tag,
    'tmp/leftover': tag,
    'var/log/dpkg.log': tag,
    'var/log/apt/history.log': tag,
    'var/lib/apt/lists/deb_dists_bookworm_main_binary-amd64_Packages': 'Package: x\n',
    'var/cache/apt/pkgcache.bin': tag,
    'var/cache/apt/archives/x.deb': tag,
    'var/cache/ldconfig/aux-cache': tag,
    'var/lib/dbus/machine-id': '0123456789abcdef0123456789abcdef\n',
    'var/lib/systemd/random-seed': tag,
    'root/.bash_history': tag,
    'usr/share/zoneinfo/Europe/Berlin': `TZif ${tag}\n`,
    'usr/sbin/sshd': '',
    'var/lib/dpkg/status': `Package: dracut\nStatus: install ok installed\nVersion: 1-${tag}\nArchitecture: amd64\n\nPackage: only-${tag}\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n`,
    [`boot/vmlinuz-6.1.0-${tag}`]: `kernel ${tag}`,
    'srv/data/file': tag,
  };
}

async function lay(dir: string, files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content, { mode: 0o640 });
  }
}

/** Paths (files or directories) and contents, modes and link targets: what "unchanged" means. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    const info = await lstat(file);
    const what = info.isSymbolicLink() ? `-> ${await readlink(file)}` : info.isFile() ? await readFile(file, 'utf8') : 'dir';
    out[path.relative(dir, file)] = `${(info.mode & 0o7777).toString(8)} ${info.uid}:${info.gid} ${what}`;
  }
  return out;
}

async function link(paths: readonly string[]): Promise<void> {
  for (const item of paths) {
    await mkdir(path.dirname(path.join(root, item)), { recursive: true });
    await symlink(path.join(victim, item), path.join(root, item));
  }
}

const recipe = (timezone: string | undefined) => recipeRecord({ name: 'escape', locale: 'en_US.UTF-8', timezone, hooks: ['hook.sh'] });
const tools = { emit: () => {}, signal: new AbortController().signal };

/** Every stage that touches the image root, in build order, as far as each gets in this image. */
async function runStages(timezone: string | undefined): Promise<void> {
  const overlays = path.join(base, 'overlays');
  await lay(overlays, { 'site/etc/motd': 'hi\n', 'site.yaml': 'files:\n  - path: /srv/data\n    mode: "0700"\n    recursive: true\n' });
  await applyOverlay(root, path.join(overlays, 'site'), path.join(overlays, 'site.yaml'), () => {}).catch(() => undefined);
  await configureImage(root, recipe(timezone), tools).catch(() => undefined);
  await writeFile(path.join(base, 'hook.sh'), 'true\n');
  await runHooks(root, base, recipe(timezone), 0, tools).catch(() => undefined);
  const version = await installedKernel(root, 'linux-image-amd64', debian).catch(() => undefined);
  if (version !== undefined) {
    await copyKernel(root, version, path.join(base, 'vmlinuz'));
    await initrdCacheKey(root, version, debian).catch(() => undefined);
  }
  await cleanImage(root, [], { distro: debian }).catch(() => undefined);
}

const leafLinks = [
  'etc/hostname',
  'etc/hosts',
  'etc/timezone',
  'etc/localtime',
  'etc/default/locale',
  'etc/locale.gen',
  'etc/machine-id',
  'etc/resolv.conf',
  'etc/passwd',
  'etc/ssh',
  'etc/dracut.conf',
  'etc/dracut.conf.d',
  'etc/systemd/system',
  'var/tmp',
  'var/log',
  'var/lib/apt/lists',
  'var/cache/apt',
  'var/cache/ldconfig',
  'var/lib/dbus',
  'var/lib/systemd',
  'root',
  'usr/share/zoneinfo',
  'usr/sbin',
  'var/lib/dpkg/status',
  'boot',
  'srv/data',
];

describe('an image whose paths are absolute symlinks out of the root', () => {
  it('leaves the directory they point to untouched, every stage resolving them in the image', async () => {
    const before = await snapshot(victim);
    await link(leafLinks);
    // The image's own view of those link targets, so that the stages get somewhere in it.
    await lay(path.join(root, victim), layout('image'));
    await runStages('Europe/Berlin');
    expect(await snapshot(victim)).toEqual(before);
  });

  it('writes through them inside the image, and keeps the links', async () => {
    await link(leafLinks);
    const inside = path.join(root, victim);
    await lay(inside, layout('image'));
    await configureImage(root, recipe('Europe/Berlin'), tools);
    expect(await readFile(path.join(inside, 'etc/hosts'), 'utf8')).toContain('localhost');
    expect(await readFile(path.join(inside, 'etc/timezone'), 'utf8')).toBe('Europe/Berlin\n');
    expect(await readlink(path.join(root, 'etc/hosts'))).toBe(path.join(victim, 'etc/hosts'));
    expect(await readlink(path.join(root, 'etc/localtime'))).toBe('/usr/share/zoneinfo/Europe/Berlin');
    expect(await installedKernel(root, 'linux-image-amd64', debian)).toBe('6.1.0-image');
  });

  it('leaves them untouched when whole directories of the image link out', async () => {
    const before = await snapshot(victim);
    await link(['etc', 'var', 'usr', 'boot', 'root', 'tmp', 'srv']);
    await runStages('Europe/Berlin');
    await runStages(undefined);
    expect(await snapshot(victim)).toEqual(before);
  });

  it('finds no timezone, kernel or packages on the host through them', async () => {
    await link(['etc', 'var', 'usr', 'boot']);
    await expect(configureImage(root, recipe('Europe/Berlin'), tools)).rejects.toThrow('timezone `Europe/Berlin` is not in the image');
    await expect(installedKernel(root, 'linux-image-amd64', debian)).rejects.toThrow('no kernel');
    await expect(initrdCacheKey(root, '6.1.0-host', debian)).rejects.toThrow('need dracut in the image');
    expect(await readDpkgStatus(root)).toEqual([]);
  });

  it("reads the package list from the image's own dpkg database", async () => {
    await link(leafLinks);
    await lay(path.join(root, victim), layout('image'));
    expect(await readDpkgStatus(root)).toEqual([
      { name: 'dracut', version: '1-image', arch: 'amd64' },
      { name: 'only-image', version: '1', arch: 'all' },
    ]);
  });

  it('sets up the chroot (mount points, policy-rc.d, resolv.conf) inside the image', async () => {
    await lay(victim, { 'proc/x': 'host', 'sys/x': 'host', 'dev/x': 'host' });
    const before = await snapshot(victim);
    await link(['proc', 'sys', 'dev', 'usr/sbin', 'etc/resolv.conf']);
    await withChroot(root, { emit: () => {}, stage: 'test', network: true }, async () => {
      expect(await readFile(path.join(root, victim, 'usr/sbin/policy-rc.d'), 'utf8')).toContain('exit 101');
    });
    expect(await snapshot(victim)).toEqual(before);
    const points = (await readFile(path.join(base, 'mounts.log'), 'utf8')).trim().split('\n');
    expect(points).toEqual(['proc', 'sys', 'dev'].map((dir) => path.join(root, victim, dir)));
    expect(await readlink(path.join(root, 'etc/resolv.conf'))).toBe(path.join(victim, 'etc/resolv.conf'));
  });

  it('reports a link loop in the image (here /tmp, whose target passes through /tmp) as such', async () => {
    await link(['tmp']);
    await expect(cleanImage(root, [], { distro: debian })).rejects.toThrow('too many levels of symbolic links in the image at /tmp');
  });
});
