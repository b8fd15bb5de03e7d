import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { pruneCache } from '../../src/image/prune.js';

let cache: string;
const old = new Date(Date.now() - 10 * 24 * 3600 * 1000);
beforeEach(async () => {
  cache = await mkdtemp(path.join(tmpdir(), 'pxeforge-prune-'));
  await mkdir(path.join(cache, 'layers/packages-old/etc'), { recursive: true });
  await writeFile(path.join(cache, 'layers/packages-old/etc/x'), '1234');
  await writeFile(path.join(cache, 'layers/bootstrap-new.tar'), 'new');
  await mkdir(path.join(cache, 'initrd'));
  await writeFile(path.join(cache, 'initrd/initrd-old.img'), 'initrd');
  await utimes(path.join(cache, 'layers/packages-old'), old, old);
  await utimes(path.join(cache, 'initrd/initrd-old.img'), old, old);
});
afterEach(async () => {
  await rm(cache, { recursive: true, force: true });
});

describe('pruneCache', () => {
  it('removes entries unused for longer than asked, and only those', async () => {
    const dry = await pruneCache(cache, 7, true);
    expect(dry.removed.sort()).toEqual(['initrd/initrd-old.img', 'layers/packages-old']);
    expect(await readdir(path.join(cache, 'layers'))).toContain('packages-old');
    const done = await pruneCache(cache, 7, false);
    expect(done.freedBytes).toBe(4 + 6);
    expect(await readdir(path.join(cache, 'layers'))).toEqual(['bootstrap-new.tar']);
  });

  it('with no age given, everything not in use goes', async () => {
    expect((await pruneCache(cache, 0, false)).removed).toHaveLength(3);
  });
});
