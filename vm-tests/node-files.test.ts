import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestReport } from '../src/boot-test/report.js';
import { publicKeyFingerprint } from '../src/boot-test/ssh.js';
import { hostKeyFiles } from '../src/nodes/node-file.js';
import type { Manifest } from '../src/store/manifest.js';
import { tempRecipeRepo, waitForOutput, type TempRepo } from './helpers/recipe-repo.js';

/**
 * Each node its own, on real images booted from the tree: one node group of two named nodes
 * with managed host keys, a secret, a templated file and a per-node address. Both nodes boot
 * through PXE (cn001 through iPXE, cn002 through the site's pxelinux), first the whole-root
 * initramfs image, then a second version of it, then the squashfs image (the group follows it
 * from then on). Every boot: its own host name, exactly its managed host key (the same at every
 * boot and in every image), the secret with owner and mode, its own templated file and address.
 */

const checks = `  checks:
    - { name: host name, run: "cat /etc/hostname; hostname" }
    - { name: secret, run: "stat -c '%U:%G %a' /etc/munge/munge.key; cat /etc/munge/munge.key" }
    - { name: node file, run: "cat /etc/pxeforge-node" }
    - { name: ib0 address, run: "ip -o -4 addr show | grep -o 'inet 10\\\\.10\\\\.[0-9.]*/16'" }
    - { name: staging gone, run: "test ! -e /.pxeforge-node && echo gone", expect: gone }
`;
const munge = 'users:\n  - { name: munge, system: true, home: /nonexistent, shell: /usr/sbin/nologin }\n';

const recipes: Record<string, string> = {
  'node-ram': `name: node-ram\nextends: tiny\noverlays: [common, node-ram]\n${munge}tests:\n${checks}`,
  'node-squash': `name: node-squash
base: { distro: debian, release: bookworm, arch: amd64, variant: minbase }
packages:
  sets: [node-base, squashfs-netboot]
overlays: [common]
${munge}services:
  enable: [ssh, systemd-networkd]
kernel:
  package: linux-image-cloud-amd64
  cmdline: "console=ttyS0,115200"
output:
  format: squashfs
  compression: { algorithm: zstd, level: 3 }
tests:
  boot: { memory: 2048, cpus: 2, timeout: 300 }
${checks}`,
};

const secret = 'not-a-real-munge-key\n';
let repo: TempRepo;
let tftp: string;
let secrets: string;
let site: string;
/** The squashfs version the group follows once the second case has promoted it. */
let squashVersion: string | undefined;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  return port;
}

function siteYaml(image: string): string {
  return `${site}nodeGroups:
  compute:
    image: ${image}
    channel: staging
    hosts: ["cn[001-002]"]
    hostKeys: managed
    nodeFiles: [base]
    secrets: [{ name: munge.key, path: /etc/munge/munge.key, owner: munge, group: munge, mode: "0400" }]
`;
}

/**
 * The netboot initrd, unpacked with the host's zstd and cpio: systemd and dracut's units,
 * pxeforge's pre-pivot hook, the NIC, squashfs, loop and overlay drivers, no disk drivers, and
 * smaller than a bound (compute's, with linux-image-amd64 and every wired NIC driver and systemd, is 31.6 MiB).
 */
async function expectSlimNetbootInitrd(file: string): Promise<void> {
  expect((await stat(file)).size).toBeLessThan(36 * 1024 * 1024);
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-initrd-'));
  try {
    await execa('sh', ['-c', 'zstd -dc "$1" | cpio -idm --quiet --no-absolute-filenames', 'unpack', file], { cwd: dir });
    const listing = (await execa('find', ['.', '-mindepth', '1'], { cwd: dir })).stdout.split('\n');
    const modules = new Set(listing.flatMap((entry) => /\/([^/]+)\.ko(\.[a-z]+)?$/.exec(entry)?.[1] ?? []));
    expect([...['virtio_net', 'squashfs', 'loop', 'overlay'].filter((name) => !modules.has(name))]).toEqual([]);
    expect([...['ahci', 'nvme', 'sd_mod', 'ext4', 'xfs', 'btrfs'].filter((name) => modules.has(name))]).toEqual([]);
    expect(listing.filter((entry) => entry.endsWith('/hooks/pre-pivot/90-pxeforge-node-files.sh'))).toHaveLength(1);
    expect(listing.filter((entry) => /\/systemd\/systemd$/.test(entry)).length).toBeGreaterThan(0);
    expect(listing.filter((entry) => entry.endsWith('/systemd/network/99-default.link'))).toHaveLength(1);
    expect(listing.filter((entry) => entry.endsWith('/dracut-pre-pivot.service')).length).toBeGreaterThan(0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function build(name: string): Promise<string> {
  const result = await repo.pxeforge(['build', `recipes/${name}.yaml`]);
  expect(result.exitCode, result.stdout.slice(-3000) + result.stderr).toBe(0);
  return /built \S+@(\S+) in/.exec(result.stdout)![1]!;
}

async function promote(image: string): Promise<void> {
  const result = await repo.pxeforge(['promote', image, '--channel', 'staging']);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
}

async function bootAs(image: string, node: string, entry: string): Promise<TestReport> {
  const result = await repo.pxeforge(['test', image, '--via', 'pxe', '--channel', 'staging', '--node', node, '--entry', entry], {
    tmp: true,
  });
  const [name, version] = image.split('@') as [string, string];
  const report = JSON.parse(await readFile(path.join(repo.store, 'images', name, version, 'test-report.json'), 'utf8')) as TestReport;
  expect(report.checks.filter((check) => !check.passed).map((check) => `${check.name}: ${check.reason}`)).toEqual([]);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  expect(report.tree).toMatchObject({ node, entry });
  return report;
}

const output = (report: TestReport, check: string) => report.checks.find((c) => c.name === check)!.output.trim();

async function managedKey(host: string): Promise<string> {
  return publicKeyFingerprint(await readFile(hostKeyFiles(secrets, host).public, 'utf8'))!;
}

function expectOwnFiles(report: TestReport, node: 'cn001' | 'cn002'): void {
  const n = Number(node.slice(2));
  expect(output(report, 'host name')).toBe(`${node}\n${node}`);
  expect(output(report, 'secret')).toBe(`munge:munge 400\n${secret.trim()}`);
  expect(output(report, 'node file')).toBe(`node ${node} of compute, ib0 10.10.0.${n}/16`);
  expect(output(report, 'ib0 address')).toBe(`inet 10.10.0.${n}/16`);
  expect(report.checks.find((c) => c.builtin && c.name.includes('managed SSH host key'))?.passed).toBe(true);
}

beforeAll(async () => {
  repo = await tempRecipeRepo();
  tftp = path.join(path.dirname(repo.root), 'tftp');
  secrets = path.join(path.dirname(repo.root), 'secrets');
  const port = await freePort();
  site = `store: ${repo.store}
cache: ${repo.cache}
tftpRoot: ${tftp}
mirror: host
secrets: ${secrets}
httpBaseUrl: http://10.0.2.2:${port}
channels:
  staging: {}
nodes:
  "cn[001-002]": { mac: "52:54:00:00:10:{n:02x}", ib0: "10.10.0.{n}/16" }
`;
  await repo.write('pxeforge.yaml', siteYaml('node-ram'));
  for (const [name, text] of Object.entries(recipes)) await repo.write(`recipes/${name}.yaml`, text);
  await mkdir(path.join(repo.root, 'overlays/node-ram/etc'), { recursive: true });
  await repo.write('overlays/node-ram/etc/pxeforge-version', 'first\n');
  // This test's own node file set, not the repository's example one.
  await rm(path.join(repo.root, 'nodefiles'), { recursive: true, force: true });
  const files = path.join(repo.root, 'nodefiles/base/etc');
  await mkdir(path.join(files, 'systemd/network/20-dhcp.network.d'), { recursive: true });
  await repo.write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
  await repo.write('nodefiles/base/etc/pxeforge-node.liquid', 'node {{ host }} of {{ group }}, ib0 {{ ib0 }}\n');
  // A per-node address beside the DHCP one (overlays/common's 20-dhcp.network).
  await repo.write('nodefiles/base/etc/systemd/network/20-dhcp.network.d/50-ib0.conf.liquid', '[Network]\nAddress={{ ib0 }}\n');
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', 'node files']);
  await mkdir(secrets, { mode: 0o700 });
  await chmod(secrets, 0o700);
  await writeFile(path.join(secrets, 'munge.key'), secret, { mode: 0o600 });
  // The site's own boot loader for BIOS nodes, beside pxeforge's tree.
  await mkdir(tftp, { recursive: true });
  await copyFile('/usr/lib/PXELINUX/pxelinux.0', path.join(tftp, 'pxelinux.0'));
  await copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', path.join(tftp, 'ldlinux.c32'));
});
afterAll(async () => {
  await repo?.remove();
});

describe('two nodes of one group boot from the tree, each with its own files', () => {
  it('whole-root initramfs: cn001 through iPXE, cn002 through pxelinux; a new version keeps the managed key', async () => {
    const first = await build('node-ram');
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/node-ram', first, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.nodeFiles).toEqual({ program: '/usr/lib/pxeforge/apply-node-files' });
    expect(manifest.accounts?.users.munge).toBeGreaterThan(0);
    await promote(`node-ram@${first}`);
    const cn001 = await bootAs(`node-ram@${first}`, 'cn001', 'boot.ipxe');
    expectOwnFiles(cn001, 'cn001');
    expect(cn001.hostKey).toBe(await managedKey('cn001'));
    const cn002 = await bootAs(`node-ram@${first}`, 'cn002', 'pxelinux.0');
    expectOwnFiles(cn002, 'cn002');
    expect(cn002.hostKey).toBe(await managedKey('cn002'));
    expect(cn002.hostKey).not.toBe(cn001.hostKey);

    // A second version promoted: cn001 boots it with the same key, a second boot of the node.
    await repo.write('overlays/node-ram/etc/pxeforge-version', 'second\n');
    await repo.git(['commit', '-qam', 'second version']);
    const second = await build('node-ram');
    await promote(`node-ram@${second}`);
    const again = await bootAs(`node-ram@${second}`, 'cn001', 'boot.ipxe');
    expectOwnFiles(again, 'cn001');
    expect(again.hostKey).toBe(cn001.hostKey);
  });

  it('squashfs: the same nodes, now following the squashfs image, keep their keys and get their files', async () => {
    const version = await build('node-squash');
    squashVersion = version;
    await expectSlimNetbootInitrd(path.join(repo.store, 'images/node-squash', version, 'initrd.img'));
    await repo.write('pxeforge.yaml', siteYaml('node-squash'));
    await promote(`node-squash@${version}`);
    const cn001 = await bootAs(`node-squash@${version}`, 'cn001', 'boot.ipxe');
    expectOwnFiles(cn001, 'cn001');
    expect(cn001.hostKey).toBe(await managedKey('cn001'));
    const cn002 = await bootAs(`node-squash@${version}`, 'cn002', 'pxelinux.0');
    expectOwnFiles(cn002, 'cn002');
    expect(cn002.hostKey).toBe(await managedKey('cn002'));
    // Each node recorded what it booted, its root checked by the initrd before it was mounted.
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/node-squash', version, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.bootRecord).toEqual({ program: '/usr/lib/pxeforge/boot-record', unit: 'pxeforge-boot-record.service' });
    for (const report of [cn001, cn002]) {
      const record = report.checks.find((check) => check.name.startsWith('built-in: the boot record'));
      expect(record).toMatchObject({ passed: true, name: expect.stringContaining('its root verified before it was mounted') });
      expect(JSON.parse(record!.output)).toMatchObject({
        image: 'node-squash',
        version,
        group: 'compute',
        channel: 'staging',
        root: { sha256: manifest.artifacts['rootfs.squashfs']!.sha256, verified: true },
        nodeFiles: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
    }
  });

  it('a squashfs changed in the tree after promotion: the node itself refuses to mount it', async () => {
    const version = squashVersion!;
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/node-squash', version, 'manifest.json'), 'utf8')) as Manifest;
    const placed = path.join(tftp, 'pxeforge/images/node-squash', version, 'rootfs.squashfs');
    const original = `${placed}.original`;
    // The boot test checks the tree's files on the host first: the root is changed once the VM starts,
    // as a server or a disk could change it under the nodes. A new file: the store's copy stays as it was.
    const child = repo.pxeforge(['test', `node-squash@${version}`, '--via', 'pxe', '--channel', 'staging', '--node', 'cn001'], {
      tmp: true,
    });
    await waitForOutput(child, '[boot] Boot in QEMU');
    const bytes = await readFile(placed);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    await writeFile(`${placed}.tampered`, bytes, { mode: 0o644 });
    await rename(placed, original);
    await rename(`${placed}.tampered`, placed);
    try {
      const result = await child;
      expect(result.exitCode, result.stdout + result.stderr).not.toBe(0);
      expect(result.stdout + result.stderr).toContain('root image digest mismatch');
      const report = JSON.parse(
        await readFile(path.join(repo.store, 'images/node-squash', version, 'test-report.json'), 'utf8'),
      ) as TestReport;
      expect(report.passed).toBe(false);
      // The boot test stopped at the one line the node printed, and names it (the console goes on with the halt).
      expect(report.failure!.reason).toMatch(
        new RegExp(
          `^root image digest mismatch: .*pxeforge: root image digest mismatch: http://\\S+/rootfs\\.squashfs: expected sha256 ${manifest.artifacts['rootfs.squashfs']!.sha256}, got [0-9a-f]{64} \\(fetched 4 times\\); not booting it$`,
        ),
      );
      // Nothing was mounted: the boot never reached the real root.
      expect(report.failure!.phase).toBe('root mounted');
    } finally {
      await rename(original, placed);
    }
  });
});
