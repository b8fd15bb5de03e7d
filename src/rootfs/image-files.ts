import { constants, type Dirent, type Stats } from 'node:fs';
import { copyFile, lstat, mkdir, open, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';

import { resolveInRoot, resolveTargetInRoot } from './root-path.js';

/**
 * File operations on an image root, for every build stage. The rule, enforced here and only
 * here: a path inside an image is resolved as the image would resolve it (chroot semantics,
 * see root-path.ts), never by the build host, so an absolute symlink in the image such as
 * `/etc/hosts -> /shared/etc/hosts` or `/var/tmp -> /tmp` never leads onto the host.
 *
 * - Reading and writing follow the image's symlinks, inside the image, like a process in
 *   the image would: writing `/etc/hosts` through that link writes `<root>/shared/etc/hosts`
 *   and keeps the link (missing directories are created inside the image).
 * - Removing and replacing act on the last component itself: a symlink is removed as a
 *   link, never what it points to.
 * Paths are image paths (`/etc/hosts`); callers never join them onto the root themselves.
 */

/** The host path a process in the image opens for `imagePath` (all links followed in the image). */
export function imageTarget(root: string, imagePath: string): Promise<string> {
  return resolveTargetInRoot(root, imagePath);
}

export async function readImageFile(root: string, imagePath: string): Promise<string | undefined> {
  return readFile(await imageTarget(root, imagePath), 'utf8').catch(() => undefined);
}

export async function readImageDir(root: string, imagePath: string): Promise<string[]> {
  return readdir(await imageTarget(root, imagePath)).catch(() => [] as string[]);
}

/** Entries below a directory of the image; symlinks inside it are listed, not followed. */
export async function walkImageDir(root: string, imagePath: string): Promise<Dirent[]> {
  return readdir(await imageTarget(root, imagePath), { recursive: true, withFileTypes: true }).catch(() => [] as Dirent[]);
}

export async function statImagePath(root: string, imagePath: string): Promise<Stats | undefined> {
  return lstat(await imageTarget(root, imagePath)).catch(() => undefined);
}

/** Writes a regular file; a symlink at `imagePath` is followed inside the image (and kept). */
export async function writeImageFile(root: string, imagePath: string, content: string | Buffer, mode = 0o644): Promise<string> {
  const target = await imageTarget(root, imagePath);
  await mkdir(path.dirname(target), { recursive: true });
  // O_NOFOLLOW: the resolved last component is never a link; if one appears meanwhile, fail.
  const handle = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(content);
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
  return target;
}

/** Copies a host file into the image (see writeImageFile). */
export async function copyIntoImage(root: string, source: string, imagePath: string, mode = 0o644): Promise<string> {
  return writeImageFile(root, imagePath, await readFile(source), mode);
}

/** Copies a file of the image out to the host, following its links inside the image. */
export async function copyOutOfImage(root: string, imagePath: string, target: string): Promise<void> {
  await copyFile(await imageTarget(root, imagePath), target);
}

export async function makeImageDir(root: string, imagePath: string): Promise<string> {
  const target = await imageTarget(root, imagePath);
  await mkdir(target, { recursive: true });
  return target;
}

/** Removes the entry at `imagePath` itself (a symlink as a link); its parents are resolved in the image. */
export async function removeImagePath(root: string, imagePath: string): Promise<void> {
  await rm(await resolveInRoot(root, imagePath), { recursive: true, force: true });
}

/** Replaces whatever is at `imagePath` with a symlink to `target` (a path as the image sees it). */
export async function replaceWithSymlink(root: string, imagePath: string, target: string): Promise<void> {
  const at = await resolveInRoot(root, imagePath);
  await rm(at, { recursive: true, force: true });
  await mkdir(path.dirname(at), { recursive: true });
  await symlink(target, at);
}
