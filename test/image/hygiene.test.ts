import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { debian } from '../../src/distros/debian/debian.js';
import { cleanImage, hygieneViolations } from '../../src/image/hygiene.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pxeforge-hygiene-'));
  const files: Record<string, string> = {
    'etc/ssh/ssh_host_ed25519_key': '-----BEGIN OPENSSH PRIVATE KEY-----\nxx\n',
    'etc/ssh/ssh_host_ed25519_key.pub': 'ssh-ed25519 AAAA host\n',
    'etc/ssh/sshd_config': 'Port 22\n',
    'etc/machine-id': '0123456789abcdef0123456789abcdef\n',
    'var/lib/dbus/machine-id': '0123456789abcdef0123456789abcdef\n',
    'var/lib/apt/lists/deb_dists_bookworm_main_binary-amd64_Packages': 'Package: x\n',
    'var/cache/apt/pkgcache.bin': 'bin',
    'var/log/dpkg.log': 'log',
    'var/log/keep.log': 'kept',
    'usr/sbin/sshd': '',
    'tmp/build-leftover': 'x',
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), content);
  }
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('cleanImage', () => {
  it('removes host keys, machine-id, apt lists, caches and build logs; sshd makes keys at boot', async () => {
    expect((await hygieneViolations(root)).length).toBe(3);
    const report = await cleanImage(root, [], { distro: debian });
    expect(report.sshHostKeys).toBe('removed');
    expect(report.sshKeysAtBoot).toBe('drop-in');
    expect(report.removed).toEqual(
      expect.arrayContaining(['/etc/ssh/ssh_host_ed25519_key', '/var/cache/apt/pkgcache.bin', '/var/log/dpkg.log', '/tmp/build-leftover']),
    );
    expect(await hygieneViolations(root)).toEqual([]);
    expect(await readFile(path.join(root, 'etc/machine-id'), 'utf8')).toBe('');
    await expect(stat(path.join(root, 'var/lib/dbus/machine-id'))).rejects.toThrow();
    expect(await readFile(path.join(root, 'var/log/keep.log'), 'utf8')).toBe('kept');
    expect(await readFile(path.join(root, 'etc/systemd/system/ssh.service.d/pxeforge-host-keys.conf'), 'utf8')).toContain(
      'ExecStartPre=/usr/bin/ssh-keygen -A',
    );
  });

  it('fails on a private key the recipe did not allow, and lets an allowed one stay', async () => {
    await mkdir(path.join(root, 'root/.ssh'), { recursive: true });
    await writeFile(path.join(root, 'root/.ssh/id_rsa'), '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n');
    await expect(cleanImage(root, [], { distro: debian })).rejects.toThrow('the image holds private keys: /root/.ssh/id_rsa');
    const report = await cleanImage(root, ['/root/.ssh/id_rsa'], { distro: debian });
    expect(report.privateKeys.allowed).toEqual(['/root/.ssh/id_rsa']);
  });

  it('leaves no build host DNS: a node gets /etc/resolv.conf from DHCP', async () => {
    await writeFile(path.join(root, 'etc/resolv.conf'), 'nameserver 192.0.2.53\nsearch build.example\n');
    const report = await cleanImage(root, [], { distro: debian });
    expect(report.resolvConf).toBe('dhcp');
    const text = await readFile(path.join(root, 'etc/resolv.conf'), 'utf8');
    expect(text).not.toMatch(/^(nameserver|search|domain|options)/m);
    expect(text).toMatch(/^# .*DHCP/m);
  });

  it("replaces a resolv.conf link (as the host's resolvconf leaves) with that file, never writing through it", async () => {
    const outside = path.join(root, '..', `${path.basename(root)}-outside`);
    await writeFile(outside, 'nameserver 192.0.2.53\n');
    try {
      await symlink(outside, path.join(root, 'etc/resolv.conf'));
      await cleanImage(root, [], { distro: debian });
      expect((await lstat(path.join(root, 'etc/resolv.conf'))).isFile()).toBe(true);
      expect(await readFile(outside, 'utf8')).toBe('nameserver 192.0.2.53\n');
    } finally {
      await rm(outside, { force: true });
    }
  });

  it('points /etc/resolv.conf at the stub of systemd-resolved when the image has it', async () => {
    await mkdir(path.join(root, 'usr/lib/systemd'), { recursive: true });
    await writeFile(path.join(root, 'usr/lib/systemd/systemd-resolved'), '');
    await writeFile(path.join(root, 'etc/resolv.conf'), 'nameserver 192.0.2.53\n');
    const report = await cleanImage(root, [], { distro: debian });
    expect(report.resolvConf).toBe('systemd-resolved');
    expect(await readlink(path.join(root, 'etc/resolv.conf'))).toBe('../run/systemd/resolve/stub-resolv.conf');
  });

  it("keeps a resolv.conf the recipe's overlays supply (the site's DNS)", async () => {
    await writeFile(path.join(root, 'etc/resolv.conf'), 'nameserver 10.1.0.53\n');
    const report = await cleanImage(root, [], { distro: debian, resolvConf: 'keep' });
    expect(report.resolvConf).toBe('overlay');
    expect(await readFile(path.join(root, 'etc/resolv.conf'), 'utf8')).toBe('nameserver 10.1.0.53\n');
  });
});
