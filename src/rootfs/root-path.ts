import { lstat, readlink } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';

/**
 * Resolves a path inside an image root the way the image itself would (as under chroot):
 * symlinks are followed with absolute targets taken relative to the root, and `..` never
 * climbs above it. Only the parent directories are followed; the last component is
 * returned as is (it may be a symlink the caller replaces or removes). The result is always
 * a host path inside `root`, so nothing written through it can reach the host.
 */
export async function resolveInRoot(root: string, imagePath: string): Promise<string> {
  return walk(root, imagePath, false);
}

/**
 * Like resolveInRoot, but follows the last component too, still inside the image: what a
 * process in the image opens for `imagePath`. The result is never a symlink (unless the
 * image changes meanwhile); it may not exist.
 */
export async function resolveTargetInRoot(root: string, imagePath: string): Promise<string> {
  return walk(root, imagePath, true);
}

async function walk(root: string, imagePath: string, followLast: boolean): Promise<string> {
  const parts = imagePath.split('/').filter((part) => part !== '' && part !== '.');
  const last = followLast ? undefined : parts.pop();
  let current: string[] = [];
  let pending = parts;
  let hops = 0;
  while (pending.length > 0) {
    const [part, ...rest] = pending as [string, ...string[]];
    pending = rest;
    if (part === '..') {
      current = current.slice(0, -1);
      continue;
    }
    const candidate = [...current, part];
    const info = await lstat(path.join(root, ...candidate)).catch(() => undefined);
    if (info?.isSymbolicLink()) {
      hops += 1;
      if (hops > 40) {
        throw new UserError('IMAGE_SYMLINK_LOOP', `too many levels of symbolic links in the image at ${imagePath}`, {
          hint: 'a link laid by a package, overlay or hook points back at itself; links are followed inside the image, as under chroot',
        });
      }
      const target = await readlink(path.join(root, ...candidate));
      const targetParts = target.split('/').filter((p) => p !== '' && p !== '.');
      current = target.startsWith('/') ? [] : current;
      pending = [...targetParts, ...pending];
    } else {
      current = candidate;
    }
  }
  if (last === undefined) return path.join(root, ...current);
  if (last === '..') return path.join(root, ...current.slice(0, -1));
  return path.join(root, ...current, last);
}
