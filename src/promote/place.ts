import { chmod, copyFile, link, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import type { Manifest } from '../store/manifest.js';
import { fsyncPath } from '../store/store.js';
import { privateFileMode, type TreePaths } from './tree.js';

/**
 * Puts an image version's artifacts (and its manifest) under `pxeforge/images/<name>/<version>/`:
 * hard links when the store is on the same filesystem (instant, no space), copies flushed to
 * disk otherwise. Like the store, the version appears only complete, with one rename.
 * Returns how the files got there, or `present` when an earlier promotion placed them.
 */
export async function placeVersion(paths: TreePaths, manifest: Manifest, storeDir: string): Promise<'linked' | 'copied' | 'present'> {
  const imageDir = path.join(paths.images, manifest.name);
  const final = path.join(imageDir, manifest.version);
  if (await isPlaced(final, manifest)) return 'present';
  await mkdir(imageDir, { recursive: true });
  const staged = path.join(imageDir, `.tmp-${manifest.version}-${process.pid}`);
  await rm(staged, { recursive: true, force: true });
  await mkdir(staged);
  let how: 'linked' | 'copied' = 'linked';
  try {
    // The manifest (user and host names, package lists) is a private copy, not a link: its
    // mode hides it from the PXE servers without touching the store's file (see privateFileMode).
    await copyFile(path.join(storeDir, 'manifest.json'), path.join(staged, 'manifest.json'));
    await chmod(path.join(staged, 'manifest.json'), privateFileMode);
    await fsyncPath(path.join(staged, 'manifest.json'));
    for (const file of Object.keys(manifest.artifacts)) {
      const from = path.join(storeDir, file);
      const to = path.join(staged, file);
      const linked = await link(from, to).then(
        () => true,
        (error: NodeJS.ErrnoException) => {
          if (error.code === 'EXDEV' || error.code === 'EPERM' || error.code === 'EMLINK') return false;
          throw error;
        },
      );
      if (!linked) {
        how = 'copied';
        await copyFile(from, to);
        await fsyncPath(to);
      }
    }
    await fsyncPath(staged);
    // A version placed by an interrupted promotion that was never switched to is replaced.
    await rm(final, { recursive: true, force: true });
    await rename(staged, final);
    await fsyncPath(imageDir);
    return how;
  } catch (error) {
    await rm(staged, { recursive: true, force: true });
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') {
      throw new UserError('DISK_FULL', `no space left in the PXE tree (${paths.root}) while placing ${manifest.name}@${manifest.version}`, {
        hint: 'nothing was changed; free space there, e.g. `pxeforge gc`, and promote again',
        cause: error,
      });
    }
    throw error;
  }
}

/** Placed with every artifact at its recorded size (digests are checked by `pxeforge verify`). */
async function isPlaced(dir: string, manifest: Manifest): Promise<boolean> {
  const names = await readdir(dir).catch(() => undefined);
  if (names === undefined) return false;
  for (const [name, artifact] of Object.entries(manifest.artifacts)) {
    const info = await stat(path.join(dir, name)).catch(() => undefined);
    if (info?.size !== artifact.size) return false;
  }
  return names.includes('manifest.json');
}
