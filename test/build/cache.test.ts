import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { cachedFile } from '../../src/build/cache.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('cachedFile', () => {
  it('produces once, then hits; with the cache off it produces again', async () => {
    const file = path.join(dir, 'layers/packages-abc.tar');
    let runs = 0;
    const produce = async (tmp: string) => {
      runs += 1;
      await writeFile(tmp, `run ${runs}`);
    };
    expect(await cachedFile(file, true, produce)).toBe('miss');
    expect(await cachedFile(file, true, produce)).toBe('hit');
    expect(await cachedFile(file, false, produce)).toBe('off');
    expect(runs).toBe(2);
    expect(await readFile(file, 'utf8')).toBe('run 2');
  });

  it('two builds needing one key: the second waits for the first, then hits', async () => {
    const file = path.join(dir, 'layers/bootstrap-k.tar');
    let runs = 0;
    const produce = async (tmp: string) => {
      runs += 1;
      await sleep(300);
      await writeFile(tmp, 'layer');
    };
    const outcomes = await Promise.all([cachedFile(file, true, produce), cachedFile(file, true, produce)]);
    expect(outcomes.sort()).toEqual(['hit', 'miss']);
    expect(runs).toBe(1);
  });

  it('a failed step leaves no cache entry and no temp file', async () => {
    const file = path.join(dir, 'layers/packages-bad.tar');
    await expect(
      cachedFile(file, true, async (tmp) => {
        await writeFile(tmp, 'partial');
        throw new Error('apt failed');
      }),
    ).rejects.toThrow('apt failed');
    expect((await readdir(path.dirname(file))).filter((n) => !n.endsWith('.key'))).toEqual([]);
  });
});
