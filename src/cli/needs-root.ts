import { UserError } from '../errors/user-error.js';

/** Building on this host mounts and chroots: only root can. */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) {
    throw new UserError('NEEDS_ROOT', 'building an image needs root (it mounts /proc, /sys and /dev into the image root and chroots)', {
      hint: `run pxeforge ${command} as root on the admin host`,
    });
  }
}
