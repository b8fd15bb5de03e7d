import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import { currentGeneration, generationNumber, type TreePaths } from './tree.js';

/**
 * The rule for the whole PXE tree, enforced here and nowhere else:
 *
 *   pxeforge never follows a symlink it did not create when it writes, renames or removes.
 *
 * Its own links are `pxeforge/current`, the entry links at the TFTP root (recognised by their
 * target through `pxeforge/current/`) and the links inside a generation. Everything else it
 * writes under — `pxeforge/`, `images/`, `images/<name>/`, `images/<name>/<version>/`,
 * `generations/`, `generations/<n>/`, `nodes/` (node archives: regular files), `history.jsonl`, `lock`, and the entry directories it
 * puts links into (`pxelinux.cfg/`, `grub/`) — must be a real directory (a regular file for the
 * history) or absent. Anything else found there (a symlink to the store, to `/etc`, a regular
 * file named `pxelinux.cfg`) is an obstacle: every change and `gc` refuse before writing
 * anything, naming the path, and `pxeforge verify` reports it. The TFTP root itself is the
 * site's and may be a symlink.
 */
export async function treeObstacles(paths: TreePaths): Promise<string[]> {
  const found: string[] = [];
  const expect = (file: string, kind: Kind) => expectKind(file, kind, found);
  if (!(await expect(paths.base, 'dir'))) return found;
  await expect(paths.history, 'file');
  await expect(paths.lock, 'dir');
  if (await expect(paths.current, 'link')) {
    const target = await readlink(paths.current);
    if (currentGeneration(target) === undefined) found.push(`${paths.current} points at ${target}, not at generations/<n>`);
  }
  if (await expect(paths.generations, 'dir')) {
    for (const name of await readdir(paths.generations)) {
      if (generationNumber(name) !== undefined || name.startsWith('.tmp-')) await expect(path.join(paths.generations, name), 'dir');
    }
  }
  if (await expect(paths.nodes, 'dir')) {
    for (const file of await readdir(paths.nodes, { withFileTypes: true })) {
      if (!file.isFile()) await expect(path.join(paths.nodes, file.name), 'file');
    }
  }
  if (await expect(paths.images, 'dir')) {
    for (const image of await readdir(paths.images)) {
      const imageDir = path.join(paths.images, image);
      if (!(await expect(imageDir, 'dir'))) continue;
      for (const version of await readdir(imageDir)) {
        const versionDir = path.join(imageDir, version);
        if (!(await expect(versionDir, 'dir'))) continue;
        // Placed artifacts are hard links or copies: a symlink among them is someone else's.
        for (const file of await readdir(versionDir, { withFileTypes: true })) {
          if (!file.isFile()) await expect(path.join(versionDir, file.name), 'file');
        }
      }
    }
  }
  return found;
}

type Kind = 'dir' | 'file' | 'link';

/** Whether `file` is absent or of `kind`; anything else is added to `found`, described. */
async function expectKind(file: string, kind: Kind, found: string[]): Promise<boolean> {
  const info = await lstat(file).catch(() => undefined);
  if (info === undefined) return false;
  const is = info.isSymbolicLink() ? 'link' : info.isDirectory() ? 'dir' : info.isFile() ? 'file' : 'other';
  if (is === kind) return true;
  const what =
    is === 'link'
      ? `a symlink (to ${await readlink(file).catch(() => '?')})`
      : is === 'dir'
        ? 'a directory'
        : is === 'file'
          ? 'a regular file'
          : 'a special file';
  found.push(`${file} is ${what}, where pxeforge keeps ${kind === 'dir' ? 'a directory' : kind === 'file' ? 'a file' : 'its own symlink'}`);
  return false;
}

/** Refuses a change (or gc) when the tree holds obstacles; nothing has been written yet. */
export async function assertNoObstacles(paths: TreePaths): Promise<void> {
  refuse(await treeObstacles(paths));
}

/** Refuses a change whose entry points would go into something other than a real directory under the TFTP root. */
export async function assertEntryDirs(paths: TreePaths, entryDirs: readonly string[]): Promise<void> {
  await assertKinds(entryDirs.map((dir) => [path.join(paths.root, dir), 'dir']));
}

/** Refuses unless each path is absent or of its kind (the lock checks its own directory and itself this way). */
export async function assertKinds(checks: readonly (readonly [string, Kind])[]): Promise<void> {
  const found: string[] = [];
  for (const [file, kind] of checks) await expectKind(file, kind, found);
  refuse(found);
}

function refuse(found: readonly string[]): void {
  if (found.length === 0) return;
  throw new UserError(
    'TREE_OBSTACLE',
    `pxeforge will not write through what it did not create:\n${found.map((line) => `  ${line}`).join('\n')}`,
    {
      hint: 'nothing was changed. Move these aside (for a link: put a real directory with the same contents in its place), then run again; `pxeforge verify` lists them too',
    },
  );
}

/** Whether `dir` is a real directory (not a symlink to one): where pxeforge may look for its own entry links. */
export async function isRealDir(dir: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => undefined);
  return info?.isDirectory() === true;
}

/** Every directory (and parent directory) below the TFTP root that the given entry points sit in. */
export function entryDirsOf(entries: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const entry of entries) {
    for (let dir = path.dirname(entry); dir !== '.' && dir !== '/'; dir = path.dirname(dir)) dirs.add(dir);
  }
  return [...dirs].sort();
}
