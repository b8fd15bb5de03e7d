import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { hygieneViolations } from '../src/image/hygiene.js';
import type { Manifest } from '../src/store/manifest.js';
import { mountsUnder, tempRecipeRepo, waitForOutput, type TempRepo } from './helpers/recipe-repo.js';

let repo: TempRepo;
const versions: string[] = [];

beforeAll(async () => {
  // Its own cache: these cases build from an empty one and look at what it holds.
  repo = await tempRecipeRepo('', { ownCache: true });
});
afterAll(async () => {
  await repo?.remove();
});

async function manifestOf(version: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(repo.store, 'images/tiny', version, 'manifest.json'), 'utf8')) as Manifest;
}

function builtVersion(stdout: string): string {
  const match = /built tiny@(\S+) in/.exec(stdout);
  if (match === null) throw new Error(`no version in output:\n${stdout}`);
  return match[1]!;
}

/** Unpacks an initramfs artifact (zstd-compressed newc cpio) to inspect what nodes get. */
async function unpackInitramfs(file: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-unpacked-'));
  await execa('sh', ['-c', 'zstd -dc "$1" | cpio -idm --quiet --no-absolute-filenames', 'unpack', file], { cwd: dir });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

describe('building recipes/tiny.yaml for real', () => {
  it('builds from an empty cache into a complete version', async () => {
    const result = await repo.pxeforge(['build', 'recipes/tiny.yaml']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const version = builtVersion(result.stdout);
    versions.push(version);
    const manifest = await manifestOf(version);
    expect(manifest.cache).toEqual({ bootstrap: 'miss', packages: 'miss' });
    expect(Object.keys(manifest.artifacts).sort()).toEqual(['initrd.img', 'vmlinuz']);
    expect(manifest.packages.map((p) => p.name)).toEqual(
      expect.arrayContaining(['openssh-server', 'systemd-sysv', 'linux-image-cloud-amd64']),
    );
    expect(manifest.git.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(manifest.git.dirty).toBe(false);
    expect(manifest.kernel.version).toMatch(/cloud-amd64$/);
    expect(await readdir(path.join(repo.store, 'images/tiny', version))).toEqual(['build.log', 'initrd.img', 'manifest.json', 'vmlinuz']);
    expect(await mountsUnder(repo.cache)).toEqual([]);
  });

  it('the artifact obeys the hygiene rules: no host keys, empty machine-id, no apt lists, no test key', async () => {
    const unpacked = await unpackInitramfs(path.join(repo.store, 'images/tiny', versions[0]!, 'initrd.img'));
    try {
      expect(await hygieneViolations(unpacked.dir)).toEqual([]);
      expect(await readFile(path.join(unpacked.dir, 'etc/machine-id'), 'utf8')).toBe('');
      await expect(readFile(path.join(unpacked.dir, 'root/.ssh/authorized_keys'))).rejects.toThrow();
      expect(await readFile(path.join(unpacked.dir, 'etc/systemd/system/ssh.service.d/pxeforge-host-keys.conf'), 'utf8')).toContain(
        'ssh-keygen -A',
      );
      expect(await readdir(path.join(unpacked.dir, 'etc/ssh'))).not.toContain('ssh_host_ed25519_key');
    } finally {
      await unpacked.remove();
    }
  });

  it('builds bit-identical artifacts again with the cache off', async () => {
    const result = await repo.pxeforge(['build', '--no-cache', 'recipes/tiny.yaml']);
    expect(result.exitCode).toBe(0);
    const version = builtVersion(result.stdout);
    versions.push(version);
    const [first, second] = [await manifestOf(versions[0]!), await manifestOf(version)];
    expect(second.cache).toEqual({ bootstrap: 'off', packages: 'off' });
    expect(second.artifacts).toEqual(first.artifacts);
    expect(second.inputsDigest).toBe(first.inputsDigest);
  });

  it('rebuilds an overlay change from the cached layers, and diff names the file', async () => {
    await repo.write('overlays/common/etc/pxeforge-marker', 'second\n');
    await repo.git(['add', '-A']);
    await repo.git(['commit', '-qm', 'marker']);
    const result = await repo.pxeforge(['build', 'recipes/tiny.yaml']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('[bootstrap] skipped: cached layer');
    expect(result.stdout).toContain('[packages] skipped: cached layer');
    const version = builtVersion(result.stdout);
    versions.push(version);
    expect((await manifestOf(version)).cache).toEqual({ bootstrap: 'hit', packages: 'hit' });
    const diff = await repo.pxeforge(['diff', `tiny@${versions[0]}`, `tiny@${version}`]);
    expect(diff.exitCode).toBe(0);
    const lines = diff.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('input changed'))).toEqual(['input changed: overlays/common/etc/pxeforge-marker']);
    expect(lines.filter((line) => line.startsWith('package'))).toEqual([]);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^artifact vmlinuz: .* \(identical\)$/),
        expect.stringMatching(/^artifact initrd\.img: [\d.]+ MiB → [\d.]+ MiB$/),
      ]),
    );
  });

  it('--locked installs exactly the package versions of an earlier version', async () => {
    const result = await repo.pxeforge(['build', '--locked', `tiny@${versions[0]}`, 'recipes/tiny.yaml']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const version = builtVersion(result.stdout);
    versions.push(version);
    const [first, locked] = [await manifestOf(versions[0]!), await manifestOf(version)];
    expect(locked.packages).toEqual(first.packages);
    expect(locked.recipe.packages.install).toContain(`openssh-server=${first.packages.find((p) => p.name === 'openssh-server')!.version}`);
  });

  it('images and show list what was built', async () => {
    const images = await repo.pxeforge(['images']);
    expect(images.stdout.split('\n').filter((line) => line.startsWith('tiny@'))).toHaveLength(versions.length);
    const show = await repo.pxeforge(['show', 'tiny']);
    expect(show.stdout).toContain(`tiny@${versions.at(-1)}`);
    expect(show.stdout).toMatch(/SSH host keys removed, machine-id empty/);
  });
});

describe('build faults', () => {
  it('an unknown package: the apt error in one line, no version registered', async () => {
    await repo.write('recipes/broken.yaml', 'name: broken\nextends: tiny\npackages: { include: [pxeforge-no-such-package] }\n');
    const result = await repo.pxeforge(['build', 'recipes/broken.yaml']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toMatch(/^error: apt-get could not install the packages: E: Unable to locate package pxeforge-no-such-package$/m);
    await expect(readdir(path.join(repo.store, 'images/broken'))).resolves.toEqual([]);
    expect(await mountsUnder(repo.cache)).toEqual([]);
  });

  it('a failing hook: its name and the tail of its output', async () => {
    await repo.write('recipes/hooks/fail.sh', '#!/bin/sh\necho "tuning limits"\necho "cannot write /proc/sys/x" >&2\nexit 3\n');
    await repo.write('recipes/hooked.yaml', 'name: hooked\nextends: tiny\nhooks: [recipes/hooks/fail.sh]\n');
    const result = await repo.pxeforge(['build', 'recipes/hooked.yaml']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: hook recipes/hooks/fail.sh failed (exit code 3)');
    expect(result.stderr).toContain('  | cannot write /proc/sys/x');
    await expect(readdir(path.join(repo.store, 'images/hooked'))).resolves.toEqual([]);
    expect(await mountsUnder(repo.cache)).toEqual([]);
  });

  it.each([
    ['a hook', 'SIGTERM', '[hooks] $ chroot'],
    ['pack', 'SIGINT', '[pack] $ cpio'],
  ])('%s interrupted by %s: nothing mounted, no temp dir, no partial version; the next build works', async (_, signal, marker) => {
    await repo.write('recipes/hooks/slow.sh', '#!/bin/sh\nsleep 600\n');
    const recipe = marker.startsWith('[hooks]')
      ? 'name: slow\nextends: tiny\nhooks: [recipes/hooks/slow.sh]\n'
      : 'name: slow\nextends: tiny\n';
    await repo.write('recipes/slow.yaml', recipe);
    const before = await readdir(path.join(repo.store, 'images/slow')).catch(() => [] as string[]);
    const child = repo.pxeforge(['build', 'recipes/slow.yaml']);
    await waitForOutput(child, marker);
    child.kill(signal as NodeJS.Signals);
    const result = await child;
    expect(result.exitCode).toBe(130);
    expect(result.stderr).toContain('interrupted');
    expect(await mountsUnder(repo.cache)).toEqual([]);
    expect(await readdir(path.join(repo.cache, 'work'))).toEqual([]);
    // No new version, complete or partial.
    expect(await readdir(path.join(repo.store, 'images/slow'))).toEqual(before);
    const { stdout } = await execa('ps', ['-eo', 'args']);
    expect(stdout).not.toMatch(/sleep 600|cpio --create/);
    await repo.write('recipes/slow.yaml', 'name: slow\nextends: tiny\n');
    const again = await repo.pxeforge(['build', 'recipes/slow.yaml']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('[packages] skipped: cached layer');
  });

  it('bootstrap interrupted by SIGINT: mmdebstrap and its mounts are gone, no cache entry, no version', async () => {
    const site = await repo.read('pxeforge.yaml');
    const cold = path.join(path.dirname(repo.cache), 'cold-cache');
    await repo.write('pxeforge.yaml', site.replace(/^cache: .*$/m, `cache: ${cold}`));
    try {
      const before = await readdir(path.join(repo.store, 'images/tiny')).catch(() => [] as string[]);
      const child = repo.pxeforge(['build', 'recipes/tiny.yaml']);
      await waitForOutput(child, '[bootstrap] I: ');
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode).toBe(130);
      expect(await mountsUnder(cold)).toEqual([]);
      // mmdebstrap's own temporary root is under the build's work tree (TMPDIR), so under `cold`.
      const ours = (await execa('ps', ['-eo', 'args'])).stdout.split('\n').filter((line) => line.includes(cold));
      expect(ours).toEqual([]);
      expect((await readdir(path.join(cold, 'layers'))).filter((n) => !n.endsWith('.key'))).toEqual([]);
      expect(await readdir(path.join(cold, 'work'))).toEqual([]);
      expect(await readdir(path.join(repo.store, 'images/tiny')).catch(() => [] as string[])).toEqual(before);
    } finally {
      await repo.write('pxeforge.yaml', site);
      await rm(cold, { recursive: true, force: true });
    }
  });

  it('two builds of one recipe at once both complete as distinct versions', async () => {
    const [a, b] = await Promise.all([repo.pxeforge(['build', 'recipes/tiny.yaml']), repo.pxeforge(['build', 'recipes/tiny.yaml'])]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(builtVersion(a.stdout)).not.toBe(builtVersion(b.stdout));
  });

  it('disk full while packing: a clear error, nothing registered', async () => {
    const small = await mkdtemp(path.join(tmpdir(), 'pxeforge-full-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', small]);
    try {
      const site = await repo.read('pxeforge.yaml');
      await repo.write('pxeforge.yaml', site.replace(/^store: .*$/m, `store: ${small}`));
      const result = await repo.pxeforge(['build', 'recipes/tiny.yaml']);
      await repo.write('pxeforge.yaml', site);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toMatch(/^error: no space left on device while running: /m);
      expect(await readdir(path.join(small, 'images/tiny'))).toEqual([]);
      expect(await mountsUnder(repo.cache)).toEqual([]);
    } finally {
      await execa('umount', [small]);
      await rm(small, { recursive: true, force: true });
    }
  });
});
