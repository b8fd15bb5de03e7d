import { mkdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

import lockfile from 'proper-lockfile';

export type CacheOutcome = 'hit' | 'miss' | 'off';

/**
 * The step cache: files named by the content hash of exactly what produced them. A key is
 * locked while it is produced, so a second build needing it waits and then hits; a file
 * appears only complete (written aside, then renamed).
 */
export interface StepCache {
  dir: string;
  file(kind: 'bootstrap' | 'packages' | 'initrd', key: string): string;
}

export function stepCache(dir: string): StepCache {
  return {
    dir,
    file: (kind, key) => path.join(dir, kind === 'initrd' ? 'initrd' : 'layers', `${kind}-${key.slice(0, 32)}.${kind === 'initrd' ? 'img' : 'tar'}`),
  };
}

/**
 * Returns `file`, producing it with `produce(tmp)` unless it is cached (and `useCache`).
 * With the cache off the file is produced again and replaces the cached one.
 */
export async function cachedFile(
  file: string,
  useCache: boolean,
  produce: (tmp: string) => Promise<void>,
): Promise<CacheOutcome> {
  await mkdir(path.dirname(file), { recursive: true });
  const lockTarget = `${file}.key`;
  await writeFile(lockTarget, '', { flag: 'a' });
  const release = await lockfile.lock(lockTarget, {
    stale: 30_000,
    update: 5_000,
    realpath: false,
    retries: { forever: true, minTimeout: 200, maxTimeout: 2_000 },
  });
  try {
    if (useCache && (await stat(file).then((info) => info.isFile(), () => false))) {
      const now = new Date();
      await utimes(file, now, now);
      return 'hit';
    }
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      await produce(tmp);
      await rename(tmp, file);
    } finally {
      await rm(tmp, { force: true });
    }
    return useCache ? 'miss' : 'off';
  } finally {
    await release();
  }
}
