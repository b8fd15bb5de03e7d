import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { packInputs, unpackInputs } from '../../src/executors/kubernetes/inputs.js';

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
    expect(await unpackInputs(a.file, a.sha256, dest)).toBe(7);
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
