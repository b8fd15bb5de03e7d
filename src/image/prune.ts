import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import lockfile from 'proper-lockfile';

import { mountsUnder } from '../rootfs/mounts.js';

/**
 * Removes cache entries not used for `olderThanDays` (a hit refreshes an entry's time).
 * Entries being produced (locked) and work directories with anything mounted are left alone.
 */
export async function pruneCache(
  cacheDir: string,
  olderThanDays: number,
  dryRun: boolean,
  workDir: string = path.join(cacheDir, 'work'),
): Promise<{ removed: string[]; freedBytes: number }> {
  const cutoff = Date.now() - olderThanDays * 24 * 3600 * 1000;
  const removed: string[] = [];
  let freedBytes = 0;
  // A package layer under a running build's work root must stay.
  const mountTable = await readFile('/proc/self/mountinfo', 'utf8');
  for (const sub of ['layers', 'initrd']) {
    const dir = path.join(cacheDir, sub);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.endsWith('.key') || name.endsWith('.lock')) continue;
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info === undefined || info.mtimeMs > cutoff) continue;
      const key = /\.tmp-\d+$/.test(name) ? undefined : `${file}.key`;
      if (key !== undefined && (await lockfile.check(key, { realpath: false, stale: 30_000 }).catch(() => false))) continue;
      if (mountTable.includes(`lowerdir=${file},`) || mountTable.includes(`lowerdir=${file} `)) continue;
      freedBytes += info.isDirectory() ? await treeSize(file) : info.size;
      if (!dryRun) await rm(file, { recursive: true, force: true });
      removed.push(path.join(sub, name));
    }
  }
  for (const name of await readdir(workDir).catch(() => [] as string[])) {
    const dir = path.join(workDir, name);
    const info = await stat(dir).catch(() => undefined);
    if (info === undefined || info.mtimeMs > Date.now() - 24 * 3600 * 1000 || (await mountsUnder(dir)).length > 0) continue;
    if (!dryRun) await rm(dir, { recursive: true, force: true });
    removed.push(path.join('work', name));
  }
  return { removed, freedBytes };
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += (await stat(path.join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
