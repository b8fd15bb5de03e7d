import { chmod, chown, lchown, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { overlayMetaSchema } from '../recipe/schema.js';
import { parseYamlText } from '../source/yaml-document.js';
import { readImageFile } from '../rootfs/image-files.js';
import { resolveInRoot } from '../rootfs/root-path.js';

/**
 * Copies an overlay directory over the image root. Files keep their executable bit (all
 * git records) and belong to root; symlinks are copied as symlinks, verbatim; every path is
 * resolved inside the image (see resolveInRoot), so a symlink laid by one overlay is
 * followed as the image would follow it, never onto the host. Afterwards the ownership and
 * modes from `overlays/<name>.yaml` are applied.
 */
export async function applyOverlay(root: string, overlayDir: string, metaFile: string | undefined, emit: Emit): Promise<number> {
  let count = 0;
  const walk = async (relative: string): Promise<void> => {
    for (const name of (await readdir(path.join(overlayDir, relative))).sort()) {
      const from = path.join(overlayDir, relative, name);
      const imagePath = `/${path.posix.join(relative, name)}`;
      const info = await lstat(from);
      const to = await resolveInRoot(root, imagePath);
      const existing = await lstat(to).catch(() => undefined);
      if (info.isDirectory()) {
        if (existing?.isSymbolicLink()) {
          // A directory in the overlay where the image has a link to one: follow it, in the image.
          await mkdir(path.dirname(await resolveInRoot(root, `${imagePath}/child`)), { recursive: true });
        } else if (existing === undefined) {
          await mkdir(to, { mode: 0o755 });
        } else if (!existing.isDirectory()) {
          throw new UserError(
            'OVERLAY_CONFLICT',
            `overlay ${path.basename(overlayDir)}: ${imagePath} is a directory in the overlay but a file in the image`,
          );
        }
        await walk(path.join(relative, name));
        continue;
      }
      if (existing?.isDirectory()) {
        throw new UserError(
          'OVERLAY_CONFLICT',
          `overlay ${path.basename(overlayDir)}: ${imagePath} is a file in the overlay but a directory in the image`,
        );
      }
      if (existing !== undefined) await rm(to);
      if (info.isSymbolicLink()) {
        await symlink(await readlink(from), to);
        await lchown(to, 0, 0);
      } else if (info.isFile()) {
        if (name === '.keep') continue;
        await writeFile(to, await readFile(from), { flag: 'wx', mode: info.mode & 0o111 ? 0o755 : 0o644 });
        await chmod(to, info.mode & 0o111 ? 0o755 : 0o644);
        await chown(to, 0, 0);
      }
      count += 1;
    }
  };
  await walk('');
  if (metaFile !== undefined) await applyOverlayMeta(root, metaFile, emit);
  return count;
}

/**
 * Owners and modes from `overlays/<name>.yaml`. A listed path whose last component is a
 * symlink gets the link's own owner changed and is not descended into: nothing is changed
 * through a link, so a link out of the image cannot carry a chmod onto the build host.
 */
async function applyOverlayMeta(root: string, metaFile: string, emit: Emit): Promise<void> {
  const loaded = parseYamlText(await readFile(metaFile, 'utf8'), metaFile);
  if (!loaded.ok) throw new UserError('OVERLAY_META', `${metaFile}: ${loaded.problems[0]?.message ?? 'invalid'}`);
  const meta = overlayMetaSchema.parse(loaded.document.data);
  const users = idTable(await readImageFile(root, '/etc/passwd'));
  const groups = idTable(await readImageFile(root, '/etc/group'));
  for (const entry of meta.files ?? []) {
    const target = await resolveInRoot(root, entry.path);
    if ((await lstat(target).catch(() => undefined)) === undefined) {
      throw new UserError('OVERLAY_META', `${path.basename(metaFile)}: ${entry.path} does not exist in the image`, {
        hint: 'list only paths that the overlay or a package creates',
      });
    }
    const uid = entry.owner === undefined ? undefined : lookup(users, entry.owner, 'user', entry.path);
    const gid = entry.group === undefined ? undefined : lookup(groups, entry.group, 'group', entry.path);
    const targets = entry.recursive ? await listTree(target) : [target];
    for (const item of targets) {
      if (uid !== undefined || gid !== undefined) {
        const current = await lstat(item);
        await lchown(item, uid ?? current.uid, gid ?? current.gid);
      }
      if (entry.mode !== undefined && !(await lstat(item)).isSymbolicLink()) await chmod(item, parseInt(entry.mode, 8));
    }
    emit({
      type: 'info',
      message: `${entry.path}: ${[entry.owner, entry.group].filter((x) => x !== undefined).join(':')} ${entry.mode ?? ''}`.trim(),
    });
  }
}

function idTable(text = ''): Map<string, number> {
  return new Map(
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [name = '', , id = ''] = line.split(':');
        return [name, Number(id)] as const;
      }),
  );
}

function lookup(table: Map<string, number>, value: string | number, kind: string, where: string): number {
  if (typeof value === 'number') return value;
  const id = table.get(value);
  if (id === undefined) throw new UserError('OVERLAY_META', `${where}: no ${kind} \`${value}\` in the image`);
  return id;
}

/** `dir` and, if it is a real directory, everything below it; symlinks are listed, never followed. */
async function listTree(dir: string): Promise<string[]> {
  const out = [dir];
  if (!(await lstat(dir)).isDirectory()) return out;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}
