import { mkdir, rename, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

import lockfile from 'proper-lockfile';

import { removeWorkTree } from '../rootfs/mounts.js';

export type CacheOutcome = 'hit' | 'miss' | 'off';

/**
 * The step cache: entries (files, or directories for the unpacked package layer) named by
 * the content hash of exactly what produced them. A key is locked while it is produced, so
 * a second build needing it waits and then hits; an entry appears only complete (produced
 * aside, then renamed). Entries are never modified once in place.
 */
export interface StepCache {
  dir: string;
  /** Where the bootstrap and package layers are (overlay lower directories: on a local disk). */
  layersDir: string;
  entry(kind: 'bootstrap' | 'packages' | 'initrd', key: string): string;
}

const suffix = { bootstrap: '.tar', packages: '', initrd: '.img' } as const;

export function stepCache(dir: string): StepCache {
  const layersDir = path.join(dir, 'layers');
  return {
    dir,
    layersDir,
    entry: (kind, key) => path.join(kind === 'initrd' ? path.join(dir, 'initrd') : layersDir, `${kind}-${key.slice(0, 32)}${suffix[kind]}`),
  };
}

/**
 * Returns where the step's result is: the cached `entry` (produced now unless present), or
 * with the cache off `private_`, produced for this build only; the cache is then neither
 * read nor written.
 */
export async function cachedStep(
  entry: string,
  options: { useCache: boolean; private_: string },
  produce: (target: string) => Promise<void>,
): Promise<{ path: string; outcome: CacheOutcome }> {
  if (!options.useCache) {
    await produce(options.private_);
    return { path: options.private_, outcome: 'off' };
  }
  await mkdir(path.dirname(entry), { recursive: true });
  const lockTarget = `${entry}.key`;
  await writeFile(lockTarget, '', { flag: 'a' });
  const release = await lockfile.lock(lockTarget, {
    stale: 30_000,
    update: 5_000,
    realpath: false,
    retries: { forever: true, minTimeout: 200, maxTimeout: 2_000 },
  });
  try {
    if (
      await stat(entry).then(
        () => true,
        () => false,
      )
    ) {
      const now = new Date();
      await utimes(entry, now, now);
      return { path: entry, outcome: 'hit' };
    }
    const tmp = `${entry}.tmp-${process.pid}`;
    try {
      await produce(tmp);
      await rename(tmp, entry);
    } finally {
      await removeWorkTree(tmp);
    }
    return { path: entry, outcome: 'miss' };
  } finally {
    await release();
  }
}
