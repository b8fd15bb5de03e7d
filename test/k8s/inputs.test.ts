import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { inputLimits, packInputs, unpackInputs } from '../../src/executors/kubernetes/inputs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-inputs-'));
  const repo = path.join(dir, 'repo');
  await mkdir(path.join(repo, 'overlays/common/etc'), { recursive: true });
  await mkdir(path.join(repo, 'recipes/hooks'), { recursive: true });
  await writeFile(path.join(repo, 'recipes/base.yaml'), 'name: base\n');
  await writeFile(path.join(repo, 'recipes/hooks/tune.sh'), '#!/bin/sh\n', { mode: 0o755 });
  await writeFile(path.join(repo, 'overlays/common/etc/motd'), 'hello\n');
  await symlink('motd', path.join(repo, 'overlays/common/etc/issue'));
  await writeFile(path.join(repo, 'pxeforge.yaml'), 'store: var/store\n');
  await writeFile(path.join(repo, 'unrelated.txt'), 'not an input\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sources = ['recipes/base.yaml', 'recipes/hooks/tune.sh', 'overlays/common', 'pxeforge.yaml'];

describe('build inputs as a tar stream', () => {
  it('packs exactly the inputs, reproducibly, and unpacks them with modes and links', async () => {
    const a = await packInputs(path.join(dir, 'repo'), sources, path.join(dir, 'out'));
    const b = await packInputs(path.join(dir, 'repo'), [...sources].reverse(), path.join(dir, 'out2'));
    expect(a.sha256).toBe(b.sha256);
    expect(a.entries).toBe(7);
    const dest = path.join(dir, 'unpacked');
    expect(await unpackInputs(a.file, a.sha256, dest)).toEqual({ entries: 7, notes: [] });
    expect(await readFile(path.join(dest, 'overlays/common/etc/motd'), 'utf8')).toBe('hello\n');
    expect(await readlink(path.join(dest, 'overlays/common/etc/issue'))).toBe('motd');
    expect((await stat(path.join(dest, 'recipes/hooks/tune.sh'))).mode & 0o777).toBe(0o755);
    await expect(stat(path.join(dest, 'unrelated.txt'))).rejects.toThrow();
  });

  it('refuses a tar whose digest differs, and entries that leave the destination', async () => {
    const packed = await packInputs(path.join(dir, 'repo'), sources, path.join(dir, 'out'));
    await expect(unpackInputs(packed.file, '0'.repeat(64), path.join(dir, 'x'))).rejects.toMatchObject({ code: 'INPUTS_MISMATCH' });
    // A hand-made tar with ../ in a name.
    const pack = tar.pack();
    pack.entry({ name: '../escape', size: 2 }, 'hi');
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const chunk of pack) chunks.push(chunk as Buffer);
    const evil = path.join(dir, 'evil.tar');
    await writeFile(evil, Buffer.concat(chunks));
    const digest = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    await expect(unpackInputs(evil, digest, path.join(dir, 'y'))).rejects.toMatchObject({ code: 'INPUTS_UNSAFE' });
    await expect(stat(path.join(dir, 'escape'))).rejects.toThrow();
  });
});

/** A hand-made tar: what an attacker who can write the shared store would put there. */
async function handMade(file: string, entries: (Parameters<tar.Pack['entry']>[0] & { content?: string })[]): Promise<string> {
  const pack = tar.pack();
  for (const { content, ...header } of entries) pack.entry(header, content ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await writeFile(file, Buffer.concat(chunks));
  return createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
}

describe('unpacking hostile inputs', () => {
  it('never writes through a symlink entry out of the destination (overlays/x -> /victim, then overlays/x/pwned.sh setuid)', async () => {
    const victim = path.join(dir, 'victim');
    await mkdir(victim);
    const evil = path.join(dir, 'evil.tar');
    const digest = await handMade(evil, [
      { name: 'overlays/x', type: 'symlink', linkname: victim },
      { name: 'overlays/x/pwned.sh', mode: 0o4755, content: '#!/bin/sh\nid\n' },
    ]);
    const dest = path.join(dir, 'unpacked');
    await expect(unpackInputs(evil, digest, dest)).rejects.toMatchObject({ code: 'INPUTS_UNSAFE' });
    expect(await readdir(victim)).toEqual([]);
    // Nothing is left half-unpacked either.
    expect((await readdir(dir)).filter((name) => name.startsWith('unpacked'))).toEqual([]);
  });

  it('refuses a symlink out of the repository, and a path through a symlink that stays inside', async () => {
    const up = path.join(dir, 'up.tar');
    const upDigest = await handMade(up, [{ name: 'recipes/base.yaml', type: 'symlink', linkname: '../../etc/shadow' }]);
    await expect(unpackInputs(up, upDigest, path.join(dir, 'a'))).rejects.toMatchObject({ code: 'INPUTS_UNSAFE' });
    const through = path.join(dir, 'through.tar');
    const throughDigest = await handMade(through, [
      { name: 'recipes', type: 'directory', mode: 0o755 },
      { name: 'recipes/hooks', type: 'symlink', linkname: '.' },
      { name: 'recipes/hooks/x.sh', content: 'x' },
    ]);
    await expect(unpackInputs(through, throughDigest, path.join(dir, 'b'))).rejects.toMatchObject({
      code: 'INPUTS_UNSAFE',
      message: expect.stringContaining('through the symlink recipes/hooks'),
    });
  });

  it("keeps an overlay's own absolute symlinks (files of the image, never followed here)", async () => {
    const file = path.join(dir, 'overlay.tar');
    const digest = await handMade(file, [
      { name: 'overlays/common/etc/resolv.conf', type: 'symlink', linkname: '/run/systemd/resolve/stub-resolv.conf' },
    ]);
    const dest = path.join(dir, 'unpacked');
    await unpackInputs(file, digest, dest);
    expect(await readlink(path.join(dest, 'overlays/common/etc/resolv.conf'))).toBe('/run/systemd/resolve/stub-resolv.conf');
  });

  it('drops setuid, setgid and sticky bits, and skips FIFOs and devices, each with a note', async () => {
    const file = path.join(dir, 'special.tar');
    const digest = await handMade(file, [
      { name: 'overlays/common/tmp', type: 'directory', mode: 0o1777 },
      { name: 'recipes/hooks/tune.sh', mode: 0o6755, content: '#!/bin/sh\n' },
      { name: 'overlays/common/dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'overlays/common/dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 },
      { name: 'overlays/common/run/fifo', type: 'fifo', mode: 0o644 },
    ]);
    const dest = path.join(dir, 'unpacked');
    const unpacked = await unpackInputs(file, digest, dest);
    expect((await stat(path.join(dest, 'recipes/hooks/tune.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(dest, 'overlays/common/tmp'))).mode & 0o7777).toBe(0o777);
    for (const skipped of ['dev/null', 'dev/sda', 'run/fifo'])
      await expect(lstat(path.join(dest, 'overlays/common', skipped))).rejects.toThrow();
    expect(unpacked.notes).toEqual([
      'overlays/common/tmp: setuid/setgid/sticky bits dropped (mode 1777 → 0777)',
      'recipes/hooks/tune.sh: setuid/setgid/sticky bits dropped (mode 6755 → 0755)',
      'overlays/common/dev/null: a character-device entry, skipped',
      'overlays/common/dev/sda: a block-device entry, skipped',
      'overlays/common/run/fifo: a fifo entry, skipped',
    ]);
  });

  it('caps the total size and the number of entries, by default at 1 GiB and 100,000', async () => {
    expect(inputLimits).toEqual({ bytes: 1024 ** 3, entries: 100_000 });
    const file = path.join(dir, 'big.tar');
    const digest = await handMade(file, [
      { name: 'a', content: 'x'.repeat(600) },
      { name: 'b', content: 'x'.repeat(600) },
      { name: 'c', content: '' },
    ]);
    await expect(unpackInputs(file, digest, path.join(dir, 'u1'), { bytes: 1000 })).rejects.toMatchObject({
      code: 'INPUTS_TOO_LARGE',
      message: 'the build inputs hold more than 1000 bytes (at "b")',
    });
    await expect(unpackInputs(file, digest, path.join(dir, 'u2'), { entries: 2 })).rejects.toMatchObject({
      code: 'INPUTS_TOO_MANY',
      message: 'the build inputs hold more than 2 entries (at "c")',
    });
    expect((await unpackInputs(file, digest, path.join(dir, 'u3'), { bytes: 1200, entries: 3 })).entries).toBe(3);
  });

  it('extracts exactly the bytes it hashed: a tar swapped between two reads cannot get in', async () => {
    // A FIFO hands each open() its own bytes: the first reader gets the good tar, a second
    // reader (2 s later, once the first has seen its end) the evil one, as if the file were
    // replaced right after being hashed.
    const good = path.join(dir, 'good.tar');
    const digest = await handMade(good, [{ name: 'pxeforge.yaml', content: 'store: var/store\n' }]);
    const evil = path.join(dir, 'evil.tar');
    await handMade(evil, [{ name: 'pxeforge.yaml', content: 'store: /evil\n' }]);
    const fifo = path.join(dir, 'inputs.tar');
    await execa('mkfifo', [fifo]);
    const writer = execa('sh', ['-c', 'cat "$1" > "$3"; sleep 2; cat "$2" > "$3"', 'sh', good, evil, fifo], {
      reject: false,
      detached: true,
    });
    try {
      const dest = path.join(dir, 'unpacked');
      await unpackInputs(fifo, digest, dest);
      expect(await readFile(path.join(dest, 'pxeforge.yaml'), 'utf8')).toBe('store: var/store\n');
    } finally {
      try {
        process.kill(-writer.pid!, 'SIGKILL');
      } catch {
        // The writer already ended.
      }
      await writer;
    }
  });
});
