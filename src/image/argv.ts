/**
 * argv for the external programs of a build, as pure functions with each option beside its
 * value. Snapshot tests pin them: a changed flag shows up in review.
 */
import { chrootArgv } from '../rootfs/chroot-argv.js';

export { chrootArgv } from '../rootfs/chroot-argv.js';

/**
 * The work root: `lower` (the cached package layer) stays untouched, changes go to `upper`.
 * metacopy=on keeps mode, owner and timestamp changes from copying whole files up.
 */
export function overlayMountArgv(lower: string, upper: string, work: string, target: string): string[] {
  const odd = [lower, upper, work].find((dir) => /[,:\\]/.test(dir));
  if (odd !== undefined)
    throw new Error(`cannot mount an overlay with \`${odd}\`: the path has a comma, colon or backslash (move the cache)`);
  return ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work},metacopy=on`, target];
}

/** Unpacks a tar layer, keeping owners, modes, ACLs and xattrs (file capabilities). */
export function tarExtractArgv(archive: string, root: string): string[] {
  return [
    'tar',
    '--extract',
    '--file',
    archive,
    '--directory',
    root,
    '--numeric-owner',
    '--preserve-permissions',
    '--xattrs',
    '--xattrs-include=*',
    '--acls',
  ];
}

export function dracutArgv(root: string, kernelVersion: string, output: string): string[] {
  return chrootArgv(root, ['dracut', '--force', '--no-hostonly', '--reproducible', '--kver', kernelVersion, output]);
}
