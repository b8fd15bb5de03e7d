import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { cachedStep } from '../../src/image/cache.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cachedStep', () => {
  it('produces once, then hits; with the cache off it produces privately and leaves the cache alone', async () => {
    const entry = path.join(dir, 'layers/bootstrap-abc.tar');
    const private_ = path.join(dir, 'work/bootstrap.tar');
    await mkdir(path.dirname(private_), { recursive: true });
    let runs = 0;
    const produce = async (target: string) => {
      runs += 1;
      await writeFile(target, `run ${runs}`);
    };
    expect(await cachedStep(entry, { useCache: true, private_ }, produce)).toEqual({ path: entry, outcome: 'miss' });
    expect(await cachedStep(entry, { useCache: true, private_ }, produce)).toEqual({ path: entry, outcome: 'hit' });
    expect(await cachedStep(entry, { useCache: false, private_ }, produce)).toEqual({ path: private_, outcome: 'off' });
    expect(runs).toBe(2);
    expect(await readFile(entry, 'utf8')).toBe('run 1');
    expect(await readFile(private_, 'utf8')).toBe('run 2');
  });

  it('caches directories (the unpacked package layer) the same way', async () => {
    const entry = path.join(dir, 'layers/packages-abc');
    const result = await cachedStep(entry, { useCache: true, private_: '' }, async (target) => {
      await mkdir(path.join(target, 'etc'), { recursive: true });
      await writeFile(path.join(target, 'etc/os-release'), 'debian');
    });
    expect(result.outcome).toBe('miss');
    expect(await readFile(path.join(entry, 'etc/os-release'), 'utf8')).toBe('debian');
  });

  it('two builds needing one key: the second waits for the first, then hits', async () => {
    const entry = path.join(dir, 'layers/bootstrap-k.tar');
    let runs = 0;
    const produce = async (target: string) => {
      runs += 1;
      await sleep(300);
      await writeFile(target, 'layer');
    };
    const outcomes = await Promise.all([
      cachedStep(entry, { useCache: true, private_: '' }, produce),
      cachedStep(entry, { useCache: true, private_: '' }, produce),
    ]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['hit', 'miss']);
    expect(runs).toBe(1);
  });

  it('a failed step leaves no cache entry and no temp file', async () => {
    const entry = path.join(dir, 'layers/packages-bad');
    await expect(
      cachedStep(entry, { useCache: true, private_: '' }, async (target) => {
        await mkdir(target);
        await writeFile(path.join(target, 'partial'), 'x');
        throw new Error('apt failed');
      }),
    ).rejects.toThrow('apt failed');
    expect((await readdir(path.dirname(entry))).filter((n) => !n.endsWith('.key'))).toEqual([]);
  });
});
