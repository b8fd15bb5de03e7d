import { UserError } from '../errors/user-error.js';
import type { TreePaths } from './tree.js';

/** What a file-system error means for someone changing the tree. */
const meanings: Record<string, string> = {
  ENOSPC: 'no space left',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'a directory is in the way',
  EEXIST: 'something is already there',
  ELOOP: 'a symlink is in the way',
  ENAMETOOLONG: 'the name is too long',
};

/**
 * Turns a file-system failure while changing the tree into a clear error that names the path
 * (errors pxeforge already explains pass through unchanged). The caller has rolled back: nodes
 * still boot what `current` named before.
 */
export function treeWriteError(error: unknown, paths: TreePaths): unknown {
  if (error instanceof UserError) return error;
  const { code, path: where, dest } = (error ?? {}) as NodeJS.ErrnoException & { dest?: string };
  if (code === undefined || meanings[code] === undefined) return error;
  const at = [where, dest].filter(Boolean).join(' -> ') || paths.root;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new UserError('DISK_FULL', `${meanings[code]} in the PXE tree (${paths.root}) at ${at}`, {
      hint: 'nothing nodes boot from was changed; free space there, e.g. `pxeforge gc`, and run again',
      cause: error,
    });
  }
  return new UserError('TREE_WRITE_FAILED', `cannot change the PXE tree at ${at}: ${meanings[code]} (${code})`, {
    hint: 'nothing nodes boot from was changed, and what this change wrote was removed; fix that path and run again',
    cause: error,
  });
}
