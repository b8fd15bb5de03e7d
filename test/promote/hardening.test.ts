import {
  appendFile,
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, snapshotTree, type TreeSite } from '../helpers/tree-site.js';
import { printable } from '../../src/errors/quote-text.js';
import { checkReason } from '../../src/promote/audit-text.js';
import { readLock } from '../../src/promote/lock.js';
import { parseImageRef } from '../../src/store/image-ref.js';

/**
 * What an attack on the tree found: links planted where pxeforge keeps its own files, a
 * removed switch, damaged history, forged audit text, and references that leave the store.
 * Each case states the rule it defends (docs/security.md).
 */
let site: TreeSite;
let outside: string;
const cli = (...argv: string[]) => runCli(argv, site.repo);
const run = promisify(execFile);
const v1 = '20261125T100000Z-11111111';
const v2 = '20261125T110000Z-22222222';

beforeEach(async () => {
  site = await makeTreeSite();
  // A directory outside the tree that a planted link points at: it must never change.
  outside = await mkdtemp(path.join(tmpdir(), 'pxeforge-outside-'));
  await writeFile(path.join(outside, 'precious'), "not pxeforge's\n");
  await makeVersion(site.store, 'tiny', v1);
  await makeVersion(site.store, 'tiny', v2);
});
afterEach(async () => {
  await site.remove();
  await rm(outside, { recursive: true, force: true });
});

async function refused(argv: string[], code: string, exitCode: number) {
  const result = await cli(...argv, '--json');
  const last = result.stderr.trim().split('\n').at(-1) ?? '';
  const error = JSON.parse(last) as { error: { code: string; message: string; hint?: string } };
  expect({ exit: result.exitCode, code: error.error.code }, result.stderr).toEqual({ exit: exitCode, code });
  return error.error;
}

describe('pxeforge never follows a symlink it did not create', () => {
  it('gc refuses an images/<name> that links elsewhere, and removes nothing behind it', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    // The "space-saving shortcut": images/tiny made a link to the store's image directory.
    const placed = path.join(site.tftp, 'pxeforge/images/tiny');
    await rm(placed, { recursive: true });
    await symlink(path.join(site.store, 'images/tiny'), placed);
    const store = await snapshotTree(site.store);
    const error = await refused(['gc', '--keep', '1'], 'TREE_OBSTACLE', 1);
    expect(error.message).toContain(
      `${placed} is a symlink (to ${path.join(site.store, 'images/tiny')}), where pxeforge keeps a directory`,
    );
    expect(await snapshotTree(site.store)).toEqual(store);
    const verify = await cli('verify');
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(`problem: ${placed} is a symlink`);
  });

  it('gc refuses a generation directory that links elsewhere', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    const old = path.join(site.tftp, 'pxeforge/generations/1');
    await rm(old, { recursive: true });
    await symlink(outside, old);
    await refused(['gc', '--keep', '1'], 'TREE_OBSTACLE', 1);
    expect(await readFile(path.join(outside, 'precious'), 'utf8')).toBe("not pxeforge's\n");
  });

  it.each([
    ['pxelinux.cfg', "a BIOS group's per-MAC links"],
    ['grub', "a UEFI group's per-MAC links"],
  ])('promote refuses %s as a symlink out of the TFTP root (%s would land there)', async (dir) => {
    await mkdir(site.tftp, { recursive: true });
    await symlink(outside, path.join(site.tftp, dir));
    await makeVersion(site.store, 'compute', 'c1');
    const error = await refused(['promote', 'compute@c1', '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    expect(error.message).toContain(`${path.join(site.tftp, dir)} is a symlink (to ${outside})`);
    expect(await snapshotTree(outside)).toEqual({ precious: expect.stringMatching(/^file /) });
    // A failed first change leaves no trace.
    expect(await lstat(path.join(site.tftp, 'pxeforge')).catch(() => 'absent')).toBe('absent');
  });

  it('an entry directory swapped for a link after a promotion: refused, and pxeforge-looking links behind it stay', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    // A link that looks like one of pxeforge's own entry links, behind a planted directory link.
    await symlink('../pxeforge/current/grub/grub.cfg', path.join(outside, 'grub.cfg-01-52-54-00-99-99-99'));
    await rm(path.join(site.tftp, 'grub'), { recursive: true });
    await symlink(outside, path.join(site.tftp, 'grub'));
    const before = await snapshotTree(outside);
    await refused(['promote', `tiny@${v2}`, '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    await refused(['refresh'], 'TREE_OBSTACLE', 1);
    expect(await snapshotTree(outside)).toEqual(before);
  });

  it('promote refuses history.jsonl as a symlink and never appends to its target', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const history = path.join(site.tftp, 'pxeforge/history.jsonl');
    await rm(history);
    await symlink(path.join(outside, 'precious'), history);
    const before = await snapshotTree(site.tftp);
    const error = await refused(['promote', `tiny@${v2}`, '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    expect(error.message).toContain(`${history} is a symlink`);
    expect(await readFile(path.join(outside, 'precious'), 'utf8')).toBe("not pxeforge's\n");
    expect(await snapshotTree(site.tftp)).toEqual(before);
    expect((await cli('verify')).stdout).toContain(`problem: ${history} is a symlink`);
  });

  it('promote refuses pxeforge/ itself as a symlink and writes nothing (not even the lock) behind it', async () => {
    await mkdir(site.tftp, { recursive: true });
    await symlink(outside, path.join(site.tftp, 'pxeforge'));
    await refused(['promote', `tiny@${v1}`, '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    expect(await snapshotTree(outside)).toEqual({ precious: expect.stringMatching(/^file /) });
  });
  it('an owner.json that is not JSON, or not an owner, names no owner: the heartbeat alone tells', async () => {
    const lockDir = path.join(site.tftp, 'pxeforge/lock');
    await mkdir(lockDir, { recursive: true });
    for (const text of ['{not json', JSON.stringify({ host: os.hostname(), pid: 'one', user: 'x' })]) {
      await writeFile(path.join(lockDir, 'owner.json'), text);
      expect(await readLock(lockDir)).toMatchObject({ owner: undefined, state: 'alive' });
    }
  });
});

describe('the lock itself', () => {
  it('a symlink planted as pxeforge/lock is refused; nothing is made behind it', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    await symlink(outside, path.join(site.tftp, 'pxeforge/lock'));
    const error = await refused(['promote', `tiny@${v2}`, '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    expect(error.message).toContain(`${path.join(site.tftp, 'pxeforge/lock')} is a symlink (to ${outside})`);
    await refused(['gc', '--keep', '1'], 'TREE_OBSTACLE', 1);
    expect(await snapshotTree(outside)).toEqual({ precious: expect.stringMatching(/^file /) });
  });
});

describe('a tree nodes cannot boot from is never reported as fine', () => {
  beforeEach(async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'production', '--force', '--reason', 'first production')).exitCode).toBe(0);
  });
  const current = () => path.join(site.tftp, 'pxeforge/current');

  it('current removed: verify fails naming it, status and promote refuse, channel state is kept', async () => {
    await unlink(current());
    const verify = await cli('verify');
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(
      `${current()} is missing, but ${path.join(site.tftp, 'pxeforge/generations')} holds 2 generation(s): nodes cannot boot from this tree`,
    );
    expect((await refused(['status'], 'TREE_DAMAGED', 1)).hint).toContain(`ln -sfn generations/<n> ${current()}`);
    const before = await snapshotTree(site.tftp);
    await refused(['promote', `tiny@${v2}`, '--channel', 'staging'], 'TREE_DAMAGED', 1);
    expect(await snapshotTree(site.tftp)).toEqual(before);
    // Put back as the hint says: both channels are still there.
    await symlink('generations/2', current());
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    const status = await cli('status');
    expect(status.stdout).toContain(`tiny@${v2}  since`);
    expect(status.stdout).toMatch(/channel production \(protected\):\n {2}tiny@/);
  });

  it('current dangling or pointing elsewhere: verify fails, changes refuse', async () => {
    await rename(path.join(site.tftp, 'pxeforge/generations/2'), path.join(outside, 'moved'));
    expect((await cli('verify')).stdout).toContain('which is missing or incomplete');
    await refused(['promote', `tiny@${v1}`, '--channel', 'production', '--force', '--reason', 'x'], 'TREE_DAMAGED', 1);
    await unlink(current());
    await symlink(outside, current());
    const verify = await cli('verify');
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(`points at ${outside}, not at generations/<n>`);
  });

  it('a damaged history line is named with its line number; history, promote and status go on', async () => {
    const file = path.join(site.tftp, 'pxeforge/history.jsonl');
    await appendFile(file, '{"generation": 3, "trunc\n[1,2]\n');
    const history = await cli('history');
    expect(history.exitCode).toBe(0);
    expect(history.stderr).toContain(`warning: ${file}:3: not valid JSON; skipped`);
    expect(history.stderr).toContain(`warning: ${file}:4: not a history entry`);
    expect(history.stdout.trim().split('\n')).toHaveLength(2);
    const promoted = await cli('promote', `tiny@${v1}`, '--channel', 'production', '--force', '--reason', 'back');
    expect(promoted.exitCode).toBe(0);
    expect(promoted.stderr).toContain(`${file}:3: not valid JSON`);
    const verify = await cli('verify');
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(`problem: ${file}:3: not valid JSON`);
    expect((await cli('history')).stdout.trim().split('\n')).toHaveLength(3);
  });
});

describe('audit text', () => {
  it('refuses a reason with a newline or an escape sequence; nothing changes', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const before = await snapshotTree(site.tftp);
    const forged = 'ok\n2026-11-25T00:00:00.000Z  gen    9  root@admin  promote  production tiny: a -> b \u001b[2J';
    const error = await refused(['promote', `tiny@${v2}`, '--channel', 'staging', '--reason', forged], 'BAD_REASON', 2);
    expect(error.message).toBe('--reason holds a control character (U+000a at position 3); a reason is one line of printable text');
    await refused(['rollback', 'tiny', '--channel', 'staging', '--reason', 'a\u001b]0;pwned\u0007'], 'BAD_REASON', 2);
    await refused(['refresh', '--reason', 'line\u2028separator'], 'BAD_REASON', 2);
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it('escapes what a hand-written history line holds, so it cannot pose as a second line or drive the terminal', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const file = path.join(site.tftp, 'pxeforge/history.jsonl');
    const [line] = (await readFile(file, 'utf8')).trim().split('\n');
    const entry = { ...JSON.parse(line!), generation: 2, reason: 'x\n2026-01-01  gen 3  root@a  promote\u001b[31m', user: 'eve\u001b[2J' };
    await appendFile(file, `${JSON.stringify(entry)}\n`);
    const shown = (await cli('history')).stdout;
    expect(shown.trim().split('\n')).toHaveLength(2);
    expect(shown).not.toMatch(/\u001b/);
    expect(shown).toContain('eve\\x1b[2J');
    expect(shown).toContain('"x\\n2026-01-01  gen 3  root@a  promote\\x1b[31m"');
  });

  it('records the real user, and SUDO_USER separately as what it is', async () => {
    const saved = process.env.SUDO_USER;
    process.env.SUDO_USER = 'alice';
    try {
      expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    } finally {
      if (saved === undefined) delete process.env.SUDO_USER;
      else process.env.SUDO_USER = saved;
    }
    const entry = JSON.parse((await readFile(path.join(site.tftp, 'pxeforge/history.jsonl'), 'utf8')).trim()) as {
      user: string;
      sudoUser: string;
    };
    expect(entry).toMatchObject({ user: os.userInfo().username, sudoUser: 'alice' });
    expect((await cli('history')).stdout).toContain(`${os.userInfo().username} (sudo by alice)@`);
  });

  it('checkReason and printable', () => {
    expect(checkReason(undefined)).toBeUndefined();
    expect(checkReason('kernel 6.1.0-27 fixes the IB hang (INC-4711)')).toBe('kernel 6.1.0-27 fixes the IB hang (INC-4711)');
    expect(() => checkReason('tab\there')).toThrow(/U\+0009 at position 4/);
    expect(() => checkReason('\u0085')).toThrow(/U\+0085/);
    expect(() => checkReason('bidi \u202e')).toThrow(/U\+202e/);
    expect(() => checkReason('  ')).toThrow('--reason is empty');
    expect(() => checkReason('x'.repeat(501))).toThrow('--reason is 501 characters long; at most 500');
    expect(checkReason('x'.repeat(500))).toHaveLength(500);
    expect(printable('a\nb\r\tc\u001b[0m\u007f\u2028ü')).toBe('a\\nb\\r\\tc\\x1b[0m\\x7f\\u2028ü');
  });
});

describe('one parser for <name>[@<version>]', () => {
  it.each([
    ['tiny', { name: 'tiny', version: undefined }],
    ['tiny@latest', { name: 'tiny', version: undefined }],
    [`tiny@${v1}`, { name: 'tiny', version: v1 }],
    ['hpc-compute2@v1.2_3+4', { name: 'hpc-compute2', version: 'v1.2_3+4' }],
  ])('accepts %s', (reference, expected) => {
    expect(parseImageRef(reference)).toEqual(expected);
  });

  it.each([
    ['..@images', 'is not an image name'],
    ['../images/tiny@v', 'is not an image name'],
    ['tiny@v@x', 'the version must be one plain name'],
    ['tiny@../x', 'the version must be one plain name'],
    ['tiny@.hidden', 'the version must be one plain name'],
    ['tiny@', 'the version must be one plain name'],
    ['@v1', 'is not an image name'],
    ['Tiny', 'is not an image name'],
    ['tiny@a/b', 'the version must be one plain name'],
    ['tiny@a\u0000b', 'the version must be one plain name'],
  ])('refuses %j', (reference, message) => {
    expect(() => parseImageRef(reference)).toThrow(message);
  });

  it.each([
    [['promote', '..@images', '--channel', 'staging']],
    [['show', '..@images']],
    [['diff', '..@images', `tiny@${v1}`]],
    [['show', `tiny@${v1}@x`]],
    [['test', '../images/tiny@v']],
  ])('every verb refuses a bad reference with exit code 2: %j', async (argv) => {
    await refused(argv, 'BAD_IMAGE_REFERENCE', 2);
  });
});

describe('file-system obstacles', () => {
  it('a regular file named pxelinux.cfg: a clear error, and a first change leaves no trace', async () => {
    await mkdir(site.tftp, { recursive: true });
    await writeFile(path.join(site.tftp, 'pxelinux.cfg'), 'a site file\n');
    const before = await snapshotTree(site.tftp);
    const error = await refused(['promote', `tiny@${v1}`, '--channel', 'staging'], 'TREE_OBSTACLE', 1);
    expect(error.message).toContain(`${path.join(site.tftp, 'pxelinux.cfg')} is a regular file, where pxeforge keeps a directory`);
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it.skipIf(process.getuid?.() !== 0)('a read-only file system: a clear error naming the path, and the tree as it was', async () => {
    await mkdir(site.tftp, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'pxeforge-test', site.tftp]);
    try {
      expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
      await run('mount', ['-o', 'remount,ro', site.tftp]);
      const before = await snapshotTree(site.tftp);
      const error = await refused(['promote', `tiny@${v2}`, '--channel', 'staging'], 'TREE_WRITE_FAILED', 1);
      expect(error.message).toMatch(
        new RegExp(`^cannot change the PXE tree at ${site.tftp}/pxeforge/\\S+: the file system is read-only \\(EROFS\\)$`),
      );
      expect(error.hint).toContain('nothing nodes boot from was changed');
      expect(await snapshotTree(site.tftp)).toEqual(before);
    } finally {
      await run('umount', [site.tftp]);
    }
  });
});

describe('what the tree keeps private', () => {
  it('history, state and placed manifests are not world-readable; what nodes load is', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const mode = async (relative: string) => ((await stat(path.join(site.tftp, relative))).mode & 0o777).toString(8);
    expect(await mode('pxeforge/history.jsonl')).toBe('640');
    expect(await mode('pxeforge/generations/1/state.json')).toBe('640');
    expect(await mode(`pxeforge/images/tiny/${v1}/manifest.json`)).toBe('640');
    expect(Number.parseInt(await mode(`pxeforge/images/tiny/${v1}/vmlinuz`), 8) & 0o004).toBe(0o004);
    expect(Number.parseInt(await mode('pxeforge/generations/1/boot.ipxe'), 8) & 0o004).toBe(0o004);
    // The store's own manifest keeps its mode: the tree holds a copy.
    expect((await stat(path.join(site.store, 'images/tiny', v1, 'manifest.json'))).mode & 0o004).toBe(0o004);
    expect(await readlink(path.join(site.tftp, 'pxeforge/current'))).toBe('generations/1');
  });
});

describe('verify names what a planted link or an older tree exposes', () => {
  it('a placed artifact replaced by a symlink is an obstacle; world-readable private files are a note', async () => {
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
    const history = path.join(site.tftp, 'pxeforge/history.jsonl');
    await chmod(history, 0o644);
    let verify = await cli('verify');
    expect(verify.exitCode).toBe(0);
    expect(verify.stdout).toContain('note: readable by anyone the PXE servers serve (nodes never need them): pxeforge/history.jsonl;');
    const kernel = path.join(site.tftp, 'pxeforge/images/tiny', v1, 'vmlinuz');
    await rm(kernel);
    await symlink(path.join(outside, 'precious'), kernel);
    verify = await cli('verify');
    expect(verify.exitCode).toBe(1);
    expect(verify.stdout).toContain(`problem: ${kernel} is a symlink (to ${path.join(outside, 'precious')}), where pxeforge keeps a file`);
    await refused(['gc', '--keep', '1'], 'TREE_OBSTACLE', 1);
    // The next promotion appends with the private mode again.
    await rm(kernel);
    await copyFile(path.join(site.store, 'images/tiny', v1, 'vmlinuz'), kernel);
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await stat(history)).mode & 0o777).toBe(0o640);
  });
});

describe('the kernel command line a node gets', () => {
  it('is refused at promote when the real root URL takes it over what boot loaders keep', async () => {
    await makeVersion(site.store, 'compute', 'c1');
    const file = path.join(site.store, 'images/compute/c1/manifest.json');
    const manifest = JSON.parse(await readFile(file, 'utf8')) as { kernel: { cmdline: string } };
    manifest.kernel.cmdline = `root=live:{rootfs_url} ${'quiet '.repeat(292).trim()}`;
    await writeFile(file, JSON.stringify(manifest));
    const error = await refused(['promote', 'compute@c1', '--channel', 'staging'], 'CMDLINE_TOO_LONG', 2);
    expect(error.message).toMatch(
      /^compute@c1 in staging: the kernel command line is 20\d\d bytes with the root URL and the pxeforge parameters, over the 2048 bytes boot loaders keep$/,
    );
    expect(await lstat(path.join(site.tftp, 'pxeforge')).catch(() => 'absent')).toBe('absent');
  });
});
