import { execFile, spawn } from 'node:child_process';
import { appendFile, mkdir, readdir, readFile, rm, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, snapshotTree, type TreeSite } from '../helpers/tree-site.js';

let site: TreeSite;
const cli = (...argv: string[]) => runCli(argv, site.repo);
const versions = ['20261125T100000Z-11111111', '20261125T110000Z-22222222', '20261125T120000Z-33333333', '20261125T130000Z-44444444'];

beforeEach(async () => {
  site = await makeTreeSite();
  for (const v of versions) await makeVersion(site.store, 'tiny', v);
});
afterEach(async () => {
  await site.remove();
});

describe('verify', () => {
  beforeEach(async () => {
    await makeVersion(site.store, 'compute', 'c1');
    expect((await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('promote', 'compute@c1', '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('verify')).exitCode).toBe(0);
  });
  const generation = (file: string) => path.join(site.tftp, 'pxeforge/generations/2', file);

  it('finds an artifact whose digest changed, and a missing one', async () => {
    const placed = path.join(site.tftp, 'pxeforge/images/tiny', versions[0]!);
    // Placed by hard link: damage the tree's copy only.
    await rm(path.join(placed, 'vmlinuz'));
    await writeFile(path.join(placed, 'vmlinuz'), 'not the kernel');
    await rm(path.join(site.tftp, 'pxeforge/images/compute/c1/rootfs.squashfs'));
    const result = await cli('verify');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain(`problem: pxeforge/images/tiny/${versions[0]}/vmlinuz does not match the sha256 it was promoted with`);
    expect(result.stdout).toMatch(/problem: pxeforge\/images\/compute\/c1\/rootfs.squashfs \(named by \S+\) is missing/);
    expect(result.stdout).toContain('FAILED (2 problem(s))');
  });

  it('finds configs that do not parse, including GRUB configs through grub-script-check', async () => {
    await appendFile(generation('grub/groups/gpu.cfg'), 'if [ x = x ]; then\n');
    await appendFile(generation('pxelinux/canary.cfg'), 'KERNAL /x\n');
    await appendFile(generation('ipxe/groups/canary.ipxe'), 'chian /x\n');
    const result = await cli('verify', '--json');
    const report = JSON.parse(result.stdout) as { ok: boolean; problems: string[] };
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([
      'ipxe/groups/canary.ipxe:7: unknown iPXE command `chian`',
      'pxelinux/canary.cfg:9: unknown pxelinux keyword `KERNAL`',
      expect.stringMatching(/^grub\/groups\/gpu\.cfg: grub-script-check: /),
    ]);
  });

  it('finds broken links, missing entry points and a dangling current', async () => {
    await unlink(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'));
    await unlink(generation('ipxe/52-54-00-00-10-03.ipxe'));
    await symlink('groups/nowhere.ipxe', generation('ipxe/52-54-00-00-10-03.ipxe'));
    let result = await cli('verify');
    expect(result.stdout).toContain('problem: ipxe/52-54-00-00-10-03.ipxe: links to groups/nowhere.ipxe, which does not exist');
    expect(result.stdout).toContain('problem: entry point pxelinux.cfg/01-52-54-00-12-34-56 is missing (or not a link)');
    await rm(path.join(site.tftp, 'pxeforge/generations/2'), { recursive: true });
    result = await cli('verify');
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toMatch(/problem: .*pxeforge\/current does not resolve to a generation/);
  });
});

describe('gc', () => {
  it('keeps current, the generations before it, and what channels can roll back to', async () => {
    for (const v of versions) expect((await cli('promote', `tiny@${v}`, '--channel', 'staging')).exitCode).toBe(0);
    // An interrupted promotion's generation, written but never switched to.
    await mkdir(path.join(site.tftp, 'pxeforge/generations/9'));
    const dry = await cli('gc', '--keep', '2', '--dry-run', '--json');
    // Generation 3 could still roll back to v1 and v2: within the window of two, all stay.
    expect(JSON.parse(dry.stdout)).toMatchObject({ keptGenerations: [3, 4], removedGenerations: [1, 2, 9], removedVersions: [] });
    const before = await snapshotTree(site.tftp);
    await cli('gc', '--keep', '2', '--dry-run');
    expect(await snapshotTree(site.tftp)).toEqual(before);
    const result = await cli('gc', '--keep', '1', '--json');
    expect(JSON.parse(result.stdout)).toEqual({
      keptGenerations: [4],
      removedGenerations: [1, 2, 3, 9],
      // Current (v4) and the one rollback target within a window of one (v3).
      keptVersions: [`tiny@${versions[2]}`, `tiny@${versions[3]}`],
      removedVersions: [`tiny@${versions[0]}`, `tiny@${versions[1]}`],
    });
    expect(await readdir(path.join(site.tftp, 'pxeforge/generations'))).toEqual(['4']);
    expect((await cli('verify')).exitCode).toBe(0);
    expect((await cli('rollback', 'tiny', '--channel', 'staging')).exitCode).toBe(0);
    const gone = await cli('rollback', 'tiny', '--channel', 'staging');
    expect(gone.exitCode).toBe(1);
    expect(gone.stderr).toContain(`tiny@${versions[1]} is not in the PXE tree any more`);
  });
});

describe('the tree lock', () => {
  const lockDir = () => path.join(site.tftp, 'pxeforge/lock');
  async function writeLock(owner: { pid: number; host?: string; processStart?: string | null }) {
    await mkdir(lockDir(), { recursive: true });
    await writeFile(
      path.join(lockDir(), 'owner.json'),
      JSON.stringify({
        host: owner.host ?? os.hostname(),
        pid: owner.pid,
        processStart: owner.processStart ?? null,
        user: 'admin',
        command: 'promote tiny@x --channel staging',
        since: '2026-11-25T10:00:00.000Z',
      }),
    );
  }

  it('takes over the lock of a holder that died on this host, cleans what it left, and says so in output and history', async () => {
    expect((await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging')).exitCode).toBe(0);
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeLock({ pid: dead.pid! });
    // What a holder killed mid-change leaves: a half-written generation.
    await mkdir(path.join(site.tftp, `pxeforge/generations/.tmp-2-${dead.pid}`));
    expect((await cli('verify')).stdout).toContain('note: stale lock of pid');
    const result = await cli('promote', `tiny@${versions[1]}`, '--channel', 'staging');
    expect(result.exitCode).toBe(0);
    const takeover = `took over the tree lock of pid ${dead.pid} on ${os.hostname()} (promote tiny@x --channel staging, since 2026-11-25T10:00:00.000Z), which is no longer running`;
    expect(result.stderr).toContain(`warning: ${takeover}`);
    expect(await readdir(path.join(site.tftp, 'pxeforge/generations'))).toEqual(['1', '2']);
    const history = await cli('history');
    expect(history.stdout.trim().split('\n').at(-1)).toContain(`(${takeover})`);
    expect((await cli('verify')).exitCode).toBe(0);
    // The next change finds no lock at all.
    expect((await cli('promote', `tiny@${versions[2]}`, '--channel', 'staging')).stderr).not.toContain('took over');
  });

  it('takes over a dead lock only once when two changes race for it', async () => {
    expect((await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging')).exitCode).toBe(0);
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeLock({ pid: dead.pid! });
    const [a, b] = await Promise.all([
      cli('promote', `tiny@${versions[1]}`, '--channel', 'staging'),
      cli('promote', `tiny@${versions[2]}`, '--channel', 'production', '--force', '--reason', 'race test'),
    ]);
    expect([a.exitCode, b.exitCode], a.stderr + b.stderr).toEqual([0, 0]);
    expect([a.stderr, b.stderr].filter((text) => text.includes('took over')).length).toBe(1);
    const lines = (await readFile(path.join(site.tftp, 'pxeforge/history.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { generation: number; recovered?: string });
    expect(lines.map((line) => line.generation)).toEqual([1, 2, 3]);
    expect(lines.filter((line) => line.recovered !== undefined)).toHaveLength(1);
    expect((await cli('verify')).exitCode).toBe(0);
  });

  it('does not take over a dead lock whose takeover was itself interrupted, and unlock removes it', async () => {
    expect((await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging')).exitCode).toBe(0);
    const dead = spawn('true');
    await new Promise((resolve) => dead.on('exit', resolve));
    await writeLock({ pid: dead.pid! });
    await mkdir(path.join(lockDir(), 'takeover'));
    const old = new Date(Date.now() - 120_000);
    await utimes(path.join(lockDir(), 'takeover'), old, old);
    const before = await snapshotTree(site.tftp);
    const result = await cli('promote', `tiny@${versions[1]}`, '--channel', 'staging', '--wait', '0');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('an attempt to take it over was itself interrupted');
    expect(result.stderr).toContain('pxeforge unlock');
    expect(await snapshotTree(site.tftp)).toEqual(before);
    expect((await cli('unlock')).stdout).toContain(`removed the lock of pid ${dead.pid}`);
    expect((await cli('promote', `tiny@${versions[1]}`, '--channel', 'staging')).exitCode).toBe(0);
  });

  it('waits for a live holder, gives up after --wait, and unlock will not remove a live lock', async () => {
    const holder = spawn('sleep', ['30']);
    try {
      const stat = (await readFile(`/proc/${holder.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[19]!;
      await writeLock({ pid: holder.pid!, processStart: stat });
      const started = Date.now();
      const result = await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging', '--wait', '1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(`waiting for the PXE tree lock held by pid ${holder.pid}`);
      expect(result.stderr).toContain(`error: the PXE tree is locked by pid ${holder.pid}`);
      const unlock = await cli('unlock');
      expect(unlock.exitCode).toBe(1);
      expect(unlock.stderr).toContain('it is still running');
      // A lock from another host cannot be checked: only --force removes it.
      await rm(lockDir(), { recursive: true });
      await writeLock({ pid: 1, host: 'admin2.example' });
      expect((await cli('unlock')).exitCode).toBe(1);
      expect((await cli('unlock', '--force')).stdout).toContain('removed the lock of pid 1 on admin2.example');
    } finally {
      holder.kill();
    }
  });
});

describe('disk full while placing artifacts', () => {
  const root = process.getuid?.() === 0;
  it.skipIf(!root)('fails with DISK_FULL and leaves the tree as it was (TFTP root on a small tmpfs)', async () => {
    const big = '20261125T140000Z-55555555';
    await makeVersion(site.store, 'tiny', big, { size: 3 * 1024 * 1024 });
    await mkdir(site.tftp, { recursive: true });
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'pxeforge-test', site.tftp]);
    try {
      expect((await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging')).exitCode).toBe(0);
      const before = await snapshotTree(site.tftp);
      const result = await cli('promote', `tiny@${big}`, '--channel', 'staging', '--json');
      expect(result.exitCode).toBe(1);
      expect(JSON.parse(result.stderr.trim().split('\n').at(-1)!).error).toMatchObject({
        code: 'DISK_FULL',
        hint: expect.stringContaining('nothing was changed'),
      });
      expect(await snapshotTree(site.tftp)).toEqual(before);
      expect((await cli('verify')).exitCode).toBe(0);
    } finally {
      await promisify(execFile)('umount', [site.tftp]);
    }
  });

  it('copies (and flushes) when the tree is on another filesystem than the store', async () => {
    if (!root) return;
    await mkdir(site.tftp, { recursive: true });
    await promisify(execFile)('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'pxeforge-test', site.tftp]);
    try {
      const result = await cli('promote', `tiny@${versions[0]}`, '--channel', 'staging');
      expect(result.stdout).toContain('artifacts copied into');
      expect((await cli('verify')).exitCode).toBe(0);
    } finally {
      await promisify(execFile)('umount', [site.tftp]);
    }
  });
});
