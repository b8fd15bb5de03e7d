import { lstat, mkdir, mkdtemp, readdir, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { CompressionAlgorithm, PackOptions } from '../../src/formats/format.js';
import { packInitramfs } from '../../src/formats/initramfs.js';
import { fileSha256 } from '../../src/integrity/digest.js';

let dir: string;
let root: string;
const tools = { emit: () => {}, signal: new AbortController().signal };
const epoch = 1700000000;

function packing(output: string, algorithm: CompressionAlgorithm, acceptCapabilityLoss = false): PackOptions {
  return { root, output, compression: { algorithm, level: undefined }, acceptCapabilityLoss, epoch, tools };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-pack-'));
  root = path.join(dir, 'root');
  for (const sub of ['sbin', 'etc', 'boot', 'usr/bin']) await mkdir(path.join(root, sub), { recursive: true });
  await writeFile(path.join(root, 'sbin/init'), '#!/bin/sh\n');
  await writeFile(path.join(root, 'etc/b'), 'b');
  await writeFile(path.join(root, 'etc/a'), 'a');
  await writeFile(path.join(root, 'boot/vmlinuz-1'), 'kernel');
  await writeFile(path.join(root, 'usr/bin/ping'), 'ping');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function unpack(image: string, decompress: string[]): Promise<{ names: string[]; out: string }> {
  const out = path.join(dir, 'out');
  await mkdir(out);
  await execa('sh', ['-c', `"$@" < "${image}" | cpio -idm --quiet --no-absolute-filenames`, 'unpack', ...decompress], { cwd: out });
  const listing = await execa('sh', ['-c', `"$@" < "${image}" | cpio -t --quiet`, 'list', ...decompress]);
  return { names: listing.stdout.split('\n'), out };
}

describe('packInitramfs', () => {
  it('writes a sorted newc cpio with /init, /boot emptied and every time set to SOURCE_DATE_EPOCH', async () => {
    const image = path.join(dir, 'initrd.img');
    await packInitramfs(packing(image, 'zstd'));
    const { names, out } = await unpack(image, ['zstd', '-dc']);
    expect(names).toEqual(['.', 'boot', 'etc', 'etc/a', 'etc/b', 'init', 'sbin', 'sbin/init', 'usr', 'usr/bin', 'usr/bin/ping']);
    expect(await readlink(path.join(out, 'init'))).toBe('/usr/lib/pxeforge/init');
    expect((await lstat(path.join(out, 'etc/a'))).mtimeMs).toBe(epoch * 1000);
  });

  it('the same tree gives the same bytes, whatever its timestamps were', async () => {
    const first = path.join(dir, 'one.img');
    const second = path.join(dir, 'two.img');
    await packInitramfs(packing(first, 'zstd'));
    await utimes(path.join(root, 'etc/a'), new Date(), new Date());
    await packInitramfs(packing(second, 'zstd'));
    expect(await fileSha256(second)).toBe(await fileSha256(first));
  });

  it.each([
    ['gzip', ['gzip', '-dc']],
    ['xz', ['xz', '-dc']],
    ['lz4', ['lz4', '-dc']],
  ] as const)('compresses with %s in a form the kernel unpacks', async (algorithm, decompress) => {
    const image = path.join(dir, `initrd.${algorithm}`);
    await packInitramfs(packing(image, algorithm));
    const { names } = await unpack(image, [...decompress]);
    expect(names).toContain('sbin/init');
  });

  it('refuses to drop file capabilities unless the recipe accepts it', async () => {
    await execa('setcap', ['cap_net_raw+ep', path.join(root, 'usr/bin/ping')]);
    const image = path.join(dir, 'initrd.img');
    await expect(packInitramfs(packing(image, 'zstd'))).rejects.toThrow(
      'cpio cannot keep file capabilities, and these files have them: /usr/bin/ping',
    );
    await packInitramfs(packing(image, 'zstd', true));
    expect((await readdir(dir)).sort()).toEqual(['initrd.img', 'root']);
  });
});
