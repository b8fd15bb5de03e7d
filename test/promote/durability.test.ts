import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pxeforgeBin } from '../helpers/cli.js';
import { checkDurability, durabilityTrace, parseStrace, type DurabilityTree } from '../helpers/strace-durability.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';
import { treePaths } from '../../src/promote/tree.js';

/**
 * A SIGKILL keeps the page cache, so the crash test cannot see a missing fsync. Here the real
 * `pxeforge` runs under strace and its system calls are checked against the rules of
 * checkDurability: what a rename publishes is on disk before the rename, and the rename is
 * on disk (an fsync of its directory) before `current` switches.
 */

describe('strace log checker', () => {
  const tree: DurabilityTree = {
    root: '/t',
    current: '/t/pxeforge/current',
    history: '/t/pxeforge/history.jsonl',
    lock: '/t/pxeforge/lock',
    mountPoints: ['/', '/s'],
  };
  // Shortened from a real log: libuv threads (101-103), `sync --file-system` as a child (104),
  // calls split by another thread, padding before ` = `, fd paths from -yy.
  const excerpt = `100  mkdir("/t/pxeforge/lock.tmp-100-0", 0777) = 0
101  rename("/t/pxeforge/lock.tmp-100-0", "/t/pxeforge/lock") = 0
102  mkdir("/t/pxeforge/images/tiny/.tmp-v1-100", 0777) = 0
103  link("/s/images/tiny/v1/vmlinuz", "/t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz") = -1 EXDEV (Invalid cross-device link)
101  openat(AT_FDCWD</r>, "/t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz", O_WRONLY|O_CREAT|O_CLOEXEC, 0100444) = 19</t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz>
101  copy_file_range(18</s/images/tiny/v1/vmlinuz>, NULL, 19</t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz>, NULL, 4096, 0) = 4096
102  fsync(20</t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz>) = 0
103  fsync(20</t/pxeforge/images/tiny/.tmp-v1-100> <unfinished ...>
102  write(17<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
103  <... fsync resumed>)              = 0
101  rename("/t/pxeforge/images/tiny/.tmp-v1-100", "/t/pxeforge/images/tiny/v1") = 0
102  fsync(18</t/pxeforge/images/tiny>) = 0
103  mkdir("/t/pxeforge/generations/.tmp-1-100", 0777) = 0
101  openat(AT_FDCWD</r>, "/t/pxeforge/generations/.tmp-1-100/boot.ipxe", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0644) = 21</t/pxeforge/generations/.tmp-1-100/boot.ipxe>
102  write(21</t/pxeforge/generations/.tmp-1-100/boot.ipxe>, "#!ipxe\\n# pxeforge generation 1: "..., 259) = 259
103  symlink("groups/a.ipxe", "/t/pxeforge/generations/.tmp-1-100/ipxe/52-54-00-00-10-01.ipxe") = 0
104  openat(AT_FDCWD</r>, "/t/pxeforge/generations/.tmp-1-100", O_RDONLY|O_NONBLOCK) = 3</t/pxeforge/generations/.tmp-1-100>
104  syncfs(3</t/pxeforge/generations/.tmp-1-100> <unfinished ...>
102  write(17<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8
104  <... syncfs resumed>)             = 0
101  rename("/t/pxeforge/generations/.tmp-1-100", "/t/pxeforge/generations/1" <unfinished ...>
103  mkdir("/t/pxelinux.cfg", 0777) = -1 EEXIST (File exists)
101  <... rename resumed>)             = 0
102  fsync(19</t/pxeforge/generations>) = 0
103  symlink("../pxeforge/current/pxelinux.cfg/01-52-54-00-00-10-01", "/t/pxelinux.cfg/01-52-54-00-00-10-01.pxeforge-tmp") = 0
101  fsync(19</t/pxelinux.cfg>) = 0
102  rename("/t/pxelinux.cfg/01-52-54-00-00-10-01.pxeforge-tmp", "/t/pxelinux.cfg/01-52-54-00-00-10-01") = 0
103  fsync(19</t/pxelinux.cfg>) = 0
101  symlink("generations/1", "/t/pxeforge/current.tmp-100") = 0
102  fsync(19</t/pxeforge>) = 0
103  rename("/t/pxeforge/current.tmp-100", "/t/pxeforge/current") = 0
101  fsync(19</t/pxeforge>) = 0
102  openat(AT_FDCWD</r>, "/t/pxeforge/history.jsonl", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0640) = 19</t/pxeforge/history.jsonl>
103  write(19</t/pxeforge/history.jsonl>, "{\\"generation\\":1,\\"at\\":\\"2026-11-25"..., 306) = 306
101  fsync(19</t/pxeforge/history.jsonl>) = 0
102  rename("/t/pxeforge/lock", "/t/pxeforge/lock.released-100-1795639946754") = 0
`;
  const without = (line: string) => {
    expect(excerpt).toContain(`${line}\n`);
    return excerpt.replace(`${line}\n`, '');
  };

  it('parses calls split across lines, by any thread or child, with the paths of their fds', () => {
    const ops = parseStrace(excerpt);
    expect(ops.filter((op) => op.kind === 'syncfs')).toEqual([
      { kind: 'syncfs', path: '/t/pxeforge/generations/.tmp-1-100', pid: 104, start: 17, end: 19 },
    ]);
    expect(ops.find((op) => op.kind === 'rename' && op.to === '/t/pxeforge/generations/1')).toMatchObject({ pid: 101, start: 20, end: 22 });
    expect(ops.find((op) => op.kind === 'write' && op.path.endsWith('vmlinuz'))).toMatchObject({ pid: 101, end: 5 });
    // Failed calls and fds that are not files are left out.
    expect(ops.some((op) => op.kind === 'create' && op.type === 'link')).toBe(false);
    expect(ops.filter((op) => op.kind === 'write').map((op) => op.path)).not.toContain(expect.stringContaining('eventfd'));
  });

  it('passes a promotion that syncs what it publishes before each rename and its directory after', () => {
    const report = checkDurability(parseStrace(excerpt), tree);
    expect(report.problems).toEqual([]);
    expect(report.published.map((p) => p.to)).toEqual([
      'pxeforge/images/tiny/v1',
      'pxeforge/generations/1',
      'pxelinux.cfg/01-52-54-00-00-10-01',
      'pxeforge/current',
    ]);
  });

  it('names each missing fsync', () => {
    const check = (log: string) => checkDurability(parseStrace(log), tree).problems;
    expect(check(without('102  fsync(20</t/pxeforge/images/tiny/.tmp-v1-100/vmlinuz>) = 0'))).toMatchInlineSnapshot(`
      [
        "rename pxeforge/images/tiny/.tmp-v1-100 -> pxeforge/images/tiny/v1: pxeforge/images/tiny/.tmp-v1-100/vmlinuz created but not synced before the rename",
        "rename pxeforge/images/tiny/.tmp-v1-100 -> pxeforge/images/tiny/v1: pxeforge/images/tiny/.tmp-v1-100/vmlinuz written but not synced before the rename",
      ]
    `);
    expect(check(without('102  fsync(19</t/pxeforge/generations>) = 0'))).toMatchInlineSnapshot(`
      [
        "rename pxeforge/generations/.tmp-1-100 -> pxeforge/generations/1: no fsync of pxeforge/generations after the rename and before the switch of current",
      ]
    `);
    expect(check(without('101  fsync(19</t/pxelinux.cfg>) = 0'))).toMatchInlineSnapshot(`
      [
        "rename pxelinux.cfg/01-52-54-00-00-10-01.pxeforge-tmp -> pxelinux.cfg/01-52-54-00-00-10-01: pxelinux.cfg/01-52-54-00-00-10-01.pxeforge-tmp created (symlink) but not synced before the rename",
      ]
    `);
    expect(check(without('101  fsync(19</t/pxeforge/history.jsonl>) = 0'))).toMatchInlineSnapshot(`
      [
        "pxeforge/history.jsonl appended to but not fsynced after",
      ]
    `);
    // The syncfs of the child covers the generation; without it, every file in it is unsynced.
    expect(check(without('104  <... syncfs resumed>)             = 0'))).toContain(
      'rename pxeforge/generations/.tmp-1-100 -> pxeforge/generations/1: pxeforge/generations/.tmp-1-100/boot.ipxe written but not synced before the rename',
    );
  });

  it('wants the directory a run made on the way to a published name fsynced in its parent before the switch', () => {
    const log = excerpt.replace(
      '102  mkdir("/t/pxeforge/images/tiny/.tmp-v1-100", 0777) = 0\n',
      '102  mkdir("/t/pxeforge/images/tiny", 0777) = 0\n102  mkdir("/t/pxeforge/images/tiny/.tmp-v1-100", 0777) = 0\n',
    );
    // The syncfs of the generation (a later call, before the switch) covers it.
    expect(checkDurability(parseStrace(log), tree).problems).toEqual([]);
    expect(checkDurability(parseStrace(log.replace(/^104 {2}<\.\.\. syncfs resumed>.*\n/m, '')), tree).problems).toContain(
      'rename pxeforge/images/tiny/.tmp-v1-100 -> pxeforge/images/tiny/v1: pxeforge/images/tiny was made by this run and pxeforge/images is not fsynced after that and before the switch of current',
    );
  });
});

describe('durability: pxeforge under strace', () => {
  let site: TreeSite;
  let store: string | undefined;
  let mountPoints: string[];
  const v1 = '20261125T100000Z-11111111';
  const v2 = '20261125T110000Z-22222222';

  const siteYaml = (storeDir: string, moved = false) => `store: ${storeDir}
tftpRoot: tftp
channels:
  staging: {}
nodes:
  n1: "52:54:00:00:20:01"
  n2: "52:54:00:00:20:02"
  n3: "52:54:00:00:20:03"
  n4: "52:54:00:00:20:04"
nodeGroups:
  bios: { image: tiny, channel: staging, hosts: [${moved ? '"n1", "n4"' : '"n1", "n2"'}] }
  uefi: { image: tiny, channel: staging, hosts: [${moved ? '"n2", "n3"' : '"n3"'}], firmware: uefi }
`;

  beforeAll(async () => {
    site = await makeTreeSite('');
    // The store on another file system than the tree, where the host has one: placement copies.
    const shm = await stat('/dev/shm').catch(() => undefined);
    if (shm !== undefined && shm.dev !== (await stat(tmpdir())).dev)
      store = await mkdtemp('/dev/shm/pxeforge-store-').catch(() => undefined);
    await writeFile(path.join(site.repo, 'pxeforge.yaml'), siteYaml(store ?? 'store'));
    for (const v of [v1, v2]) await makeVersion(store ?? site.store, 'tiny', v, { size: 64 * 1024 });
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    mountPoints = mounts
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ')[1]!.replace(/\\040/g, ' '));
  });
  afterAll(async () => {
    await site?.remove();
    if (store !== undefined) await rm(store, { recursive: true, force: true });
  });

  /** Runs pxeforge under strace; returns its output and what checkDurability says of its calls. */
  async function traced(argv: string[], on = site) {
    const log = path.join(on.dir, `strace-${argv[0]}-${Date.now()}.log`);
    const child = spawn(
      'strace',
      ['-f', '-qq', '-yy', '-o', log, '-e', `trace=${durabilityTrace}`, process.execPath, pxeforgeBin, ...argv],
      {
        cwd: on.repo,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, stderr).toBe(0);
    const ops = parseStrace(await readFile(log, 'utf8'));
    const paths = treePaths(on.tftp);
    return {
      stdout,
      ops,
      report: checkDurability(ops, { root: paths.root, current: paths.current, history: paths.history, lock: paths.lock, mountPoints }),
    };
  }

  it('a first promotion syncs the placed version, the generation, the entry links and current before and after their renames', {
    timeout: 60_000,
  }, async () => {
    const { stdout, ops, report } = await traced(['promote', `tiny@${v1}`, '--channel', 'staging']);
    expect(stdout).toContain(store === undefined ? 'linked' : 'copied');
    expect(report.problems).toEqual([]);
    expect(report.published.map((p) => p.to)).toEqual(
      expect.arrayContaining([
        `pxeforge/images/tiny/${v1}`,
        'pxeforge/generations/1',
        'boot.ipxe',
        'pxelinux.cfg/01-52-54-00-00-20-01',
        'grub/grub.cfg-01-52-54-00-00-20-03',
        'pxeforge/current',
      ]),
    );
    // The parts that are not the page cache's: fsyncs, the syncfs of `sync --file-system`, the history append.
    expect(ops.some((op) => op.kind === 'syncfs')).toBe(true);
    expect(ops.some((op) => op.kind === 'write' && op.path.endsWith('pxeforge/history.jsonl'))).toBe(true);
  });

  it("a first promotion that places by hard link (the store on the tree's file system)", { timeout: 60_000 }, async () => {
    const linking = await makeTreeSite(siteYaml('store'));
    try {
      await makeVersion(linking.store, 'tiny', v1);
      const { stdout, report } = await traced(['promote', `tiny@${v1}`, '--channel', 'staging'], linking);
      expect(stdout).toContain('linked');
      expect(report.problems).toEqual([]);
      expect(report.published.map((p) => p.to)).toEqual(
        expect.arrayContaining([`pxeforge/images/tiny/${v1}`, 'pxeforge/generations/1', 'pxeforge/current']),
      );
    } finally {
      await linking.remove();
    }
  });

  it('a second promotion, placing another version', { timeout: 60_000 }, async () => {
    const { report } = await traced(['promote', `tiny@${v2}`, '--channel', 'staging']);
    expect(report.problems).toEqual([]);
    expect(report.published.map((p) => p.to)).toEqual(
      expect.arrayContaining([`pxeforge/images/tiny/${v2}`, 'pxeforge/generations/2', 'pxeforge/current']),
    );
  });

  it('a refresh with nodes moved between node groups (entry links made and removed)', { timeout: 60_000 }, async () => {
    await writeFile(path.join(site.repo, 'pxeforge.yaml'), siteYaml(store ?? 'store', true));
    const { ops, report } = await traced(['refresh']);
    expect(report.problems).toEqual([]);
    expect(report.published.map((p) => p.to)).toEqual(
      expect.arrayContaining([
        'pxelinux.cfg/01-52-54-00-00-20-04',
        'grub/grub.cfg-01-52-54-00-00-20-02',
        'pxeforge/generations/3',
        'pxeforge/current',
      ]),
    );
    expect(ops.filter((op) => op.kind === 'remove').map((op) => op.kind === 'remove' && path.basename(op.path))).toContain(
      '01-52-54-00-00-20-02',
    );
  });
});
