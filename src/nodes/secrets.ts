import { lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { run } from '../exec/run.js';
import type { SettingLocation, SiteTree } from '../site/site-config.js';
import { readRegularFile } from '../source/read-regular-file.js';

const within = (parent: string, child: string) => {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
};

/**
 * Whether the secrets directory may hold secrets: a real directory (not a symlink) of the user
 * running pxeforge with no group or other permission, outside the store, the TFTP root and any
 * git work tree (unless git ignores it). A missing directory is made (0700) with `create`, is
 * a problem with `require` (secrets are named), and is fine with `may-be-missing` (only
 * managed host keys, made later with the directory).
 */
export async function secretsDirProblems(
  site: SiteTree,
  at: SettingLocation,
  missing: 'create' | 'require' | 'may-be-missing',
): Promise<Problem[]> {
  const dir = site.secretsDir;
  const problem = (message: string, hint?: string): Problem[] => [{ ...at, message, hint }];
  const store = site.nodeConfig?.storeDir;
  if (within(site.tftpRoot, dir) || within(dir, site.tftpRoot)) {
    return problem('the secrets directory overlaps the TFTP root, which every node can read', 'keep it apart (e.g. var/secrets)');
  }
  if (store !== undefined && (within(store, dir) || within(dir, store))) {
    return problem('the secrets directory overlaps the image store', 'keep it apart (e.g. var/secrets)');
  }
  let info = await lstat(dir).catch(() => undefined);
  if (info === undefined && missing === 'create') {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    info = await lstat(dir);
  }
  if (info === undefined && missing === 'may-be-missing') return [];
  if (info === undefined) return problem('the secrets directory does not exist', 'create it with mode 0700 (`install -d -m 0700 <dir>`)');
  if (info.isSymbolicLink()) return problem('the secrets directory is a symlink; pxeforge follows none there', 'name the real directory');
  if (!info.isDirectory()) return problem('the secrets directory is not a directory');
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    return problem(`the secrets directory belongs to uid ${info.uid}, not to the user running pxeforge (uid ${uid})`);
  }
  if ((info.mode & 0o077) !== 0) {
    return problem(
      `the secrets directory has mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')}: group and others may reach it`,
      'chmod 0700 it',
    );
  }
  const top = await run(['git', '-C', dir, 'rev-parse', '--show-toplevel'], { capture: true }).then(
    (result) => result.stdout.trim(),
    () => undefined,
  );
  if (top !== undefined && top !== '') {
    const ignored = await run(['git', '-C', top, 'check-ignore', '-q', '--', dir], { capture: true }).then(
      () => true,
      () => false,
    );
    if (!ignored) {
      return problem(
        'the secrets directory is inside a git work tree and not ignored by git',
        'add it to .gitignore, or move it out of the work tree',
      );
    }
  }
  return [];
}

/** A site secret's bytes: a regular file of the secrets directory (never followed through a symlink). */
export async function readSecret(secretsDir: string, name: string): Promise<{ content?: Buffer; problem?: string }> {
  const read = await readRegularFile(path.join(secretsDir, name));
  if ('content' in read) return read;
  if (read.refused === 'missing') return { problem: `no secret ${'`'}${name}${'`'} in the secrets directory` };
  if (read.refused === 'symlink') return { problem: `secret \`${name}\` is a symlink (symlinks are not followed)` };
  return { problem: `secret \`${name}\` is not a regular file (symlinks are not followed)` };
}
