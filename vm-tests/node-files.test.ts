import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { testImage } from '../src/boot-test/boot-test.js';
import type { TestReport } from '../src/boot-test/report.js';
import { publicKeyFingerprint } from '../src/boot-test/ssh.js';
import { fileSha256 } from '../src/integrity/digest.js';
import type { Manifest } from '../src/store/manifest.js';
import { makeNodeArchive, type ArchiveEntry } from '../test/helpers/node-archive.js';
import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * A node's own files at boot, on real images: a node archive (GNU cpio newc of the staging
 * layout) is appended to the image's initrd, as a boot loader loads it as a second initrd, and
 * the image boots directly in QEMU. For the whole-root initramfs, pxeforge's /init applies it;
 * for the squashfs root, the netboot initrd's pxeforge dracut module applies it in the new
 * root before the switch. The recipes' checks read the result over SSH.
 *
 * Builds reuse a step cache kept between runs (PXEFORGE_VM_CACHE, default in the temp dir).
 */
const cache = process.env.PXEFORGE_VM_CACHE ?? path.join(tmpdir(), 'pxeforge-vm-cache');

const checks = `tests:
  checks:
    - { name: host name from the node's files, run: "cat /etc/hostname; hostname", expect: "cn001\\ncn001" }
    - { name: secret with owner and mode, run: "stat -c '%U:%G %a' /etc/munge/munge.key; cat /etc/munge/munge.key", expect: "daemon:daemon 400\\nnot-a-real-secret" }
    - { name: explicit directory takes its owner and mode, run: "stat -c '%U:%G %a' /mnt", expect: "daemon:daemon 750" }
    - { name: existing directory left alone, run: "stat -c '%U:%G %a' /opt", expect: "root:root 755" }
    - { name: missing directory made, run: "stat -c '%U:%G %a' /etc/munge", expect: "daemon:daemon 700" }
    - { name: per-node address, run: "ip -o addr show", match: "inet 10\\\\.10\\\\.0\\\\.1/16 " }
    - { name: staging directory gone, run: "test ! -e /.pxeforge-node && echo gone", expect: gone }
`;

const recipes: Record<string, string> = {
  // The whole root in RAM: pxeforge's /init applies the files.
  'node-ram': `name: node-ram\nextends: tiny\n${checks}`,
  // The squashfs root over HTTP: the netboot initrd applies them.
  'node-squash': `name: node-squash
base: { distro: debian, release: bookworm, arch: amd64, variant: minbase }
packages:
  sets: [node-base, squashfs-netboot]
overlays: [common]
services:
  enable: [ssh, systemd-networkd]
kernel:
  package: linux-image-cloud-amd64
  cmdline: "console=ttyS0,115200"
output:
  format: squashfs
  compression: { algorithm: zstd, level: 3 }
${checks.replace('tests:', 'tests:\n  boot: { memory: 2048, cpus: 2, timeout: 240 }')}`,
};

let repo: TempRepo;
let hostKey: { private: string; public: string };
const versions: Record<string, string> = {};

beforeAll(async () => {
  repo = await tempRecipeRepo();
  await repo.write('pxeforge.yaml', (await repo.read('pxeforge.yaml')).replace(/^cache: .*$/m, `cache: ${cache}`));
  for (const [name, text] of Object.entries(recipes)) await repo.write(`recipes/${name}.yaml`, text);
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', 'node file recipes']);
  for (const name of Object.keys(recipes)) {
    const result = await repo.pxeforge(['build', `recipes/${name}.yaml`]);
    expect(result.exitCode, result.stdout.slice(-3000) + result.stderr).toBe(0);
    versions[name] = /built \S+@(\S+) in/.exec(result.stdout)![1]!;
  }
  const keyFile = path.join(repo.tmp, 'ssh_host_ed25519_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'cn001', '-f', keyFile]);
  hostKey = { private: await readFile(keyFile, 'utf8'), public: await readFile(`${keyFile}.pub`, 'utf8') };
  await rm(keyFile);
  await rm(`${keyFile}.pub`);
});
afterAll(async () => {
  await repo?.remove();
});

function nodeArchiveEntries(): ArchiveEntry[] {
  const root = { uid: 0, gid: 0 };
  return [
    { path: '/etc', kind: 'directory', ...root, mode: 0o700 },
    { path: '/etc/hostname', kind: 'file', ...root, mode: 0o644, content: 'cn001\n' },
    { path: '/etc/munge', kind: 'directory', uid: 1, gid: 1, mode: 0o700 },
    { path: '/etc/munge/munge.key', kind: 'file', uid: 1, gid: 1, mode: 0o400, content: 'not-a-real-secret\n' },
    { path: '/etc/ssh', kind: 'directory', ...root, mode: 0o755 },
    { path: '/etc/ssh/ssh_host_ed25519_key', kind: 'file', ...root, mode: 0o600, content: hostKey.private },
    { path: '/etc/ssh/ssh_host_ed25519_key.pub', kind: 'file', ...root, mode: 0o644, content: hostKey.public },
    { path: '/etc/systemd', kind: 'directory', ...root, mode: 0o755 },
    { path: '/etc/systemd/network', kind: 'directory', ...root, mode: 0o755 },
    { path: '/etc/systemd/network/20-dhcp.network.d', kind: 'directory', ...root, mode: 0o755 },
    {
      path: '/etc/systemd/network/20-dhcp.network.d/50-node.conf',
      kind: 'file',
      ...root,
      mode: 0o644,
      content: '[Network]\nAddress=10.10.0.1/16\n',
    },
    { path: '/opt', kind: 'directory', uid: 1, gid: 1, mode: 0o700 },
    // Not /srv: systemd-tmpfiles resets its mode at boot (home.conf), after the files are applied.
    { path: '/mnt', kind: 'directory', uid: 1, gid: 1, mode: 0o750, explicit: true },
  ];
}

/**
 * A store holding a copy of the version whose initrd carries the node archive after the
 * image's own (padded to 4 bytes, as the kernel reads concatenated cpio archives), its
 * manifest naming the combined initrd.
 */
async function versionWithNodeArchive(name: string): Promise<string> {
  const version = versions[name]!;
  const store = path.join(repo.tmp, '..', `node-store-${name}`);
  const dir = path.join(store, 'images', name, version);
  await cp(path.join(repo.store, 'images', name, version), dir, { recursive: true });
  const initrd = path.join(dir, 'initrd.img');
  const image = await readFile(initrd);
  const archive = path.join(repo.tmp, '..', `${name}-node.cpio`);
  await makeNodeArchive(nodeArchiveEntries(), archive);
  const padding = Buffer.alloc((4 - (image.length % 4)) % 4);
  await rm(initrd, { force: true });
  await writeFile(initrd, Buffer.concat([image, padding, await readFile(archive)]));
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  manifest.artifacts['initrd.img'] = { sha256: await fileSha256(initrd), size: (await readFile(initrd)).length };
  await rm(path.join(dir, 'manifest.json'));
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return store;
}

async function bootWithNodeFiles(name: string): Promise<TestReport> {
  const store = await versionWithNodeArchive(name);
  const savedTmp = process.env.TMPDIR;
  process.env.TMPDIR = repo.tmp;
  try {
    return await testImage({
      store,
      image: `${name}@${versions[name]}`,
      via: 'direct',
      emit: () => {},
      signal: new AbortController().signal,
    });
  } finally {
    process.env.TMPDIR = savedTmp;
    if (savedTmp === undefined) delete process.env.TMPDIR;
  }
}

function expectNodeFilesInPlace(report: TestReport): void {
  const failed = report.checks.filter((check) => !check.passed).map((check) => `${check.name}: ${check.reason} (${check.output})`);
  expect(failed).toEqual([]);
  expect(report.checks.map((check) => check.name)).toContain("host name from the node's files");
  expect(report.passed).toBe(true);
  // The node presents the host key of its archive, not one it made at boot.
  expect(report.hostKey).toBe(publicKeyFingerprint(hostKey.public));
}

describe("a node's own files at boot", () => {
  it('whole-root initramfs: /init applies the archive before systemd starts', async () => {
    const manifest = JSON.parse(
      await readFile(path.join(repo.store, 'images', 'node-ram', versions['node-ram']!, 'manifest.json'), 'utf8'),
    ) as Manifest;
    expect(manifest.nodeFiles).toEqual({ program: '/usr/lib/pxeforge/apply-node-files' });
    expect(manifest.accounts?.users).toMatchObject({ root: 0, daemon: 1 });
    expect(manifest.accounts?.groups).toMatchObject({ root: 0, daemon: 1 });
    expectNodeFilesInPlace(await bootWithNodeFiles('node-ram'));
  });

  it('squashfs: the netboot initrd applies the archive in the new root before it switches', async () => {
    expectNodeFilesInPlace(await bootWithNodeFiles('node-squash'));
  });
});
