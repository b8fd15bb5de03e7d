import { mkdir, statfs } from 'node:fs/promises';

import { UserError } from '../errors/user-error.js';

/**
 * Which file systems can hold a build's work tree and its unpacked package layer. overlayfs
 * refuses a network or FUSE file system as its upper or work directory, and a chroot
 * with device nodes, xattrs and bind mounts does not work on one either (root squash, no
 * trusted xattrs). The store and the inputs may be on one: they are only written as plain
 * files and renamed within their own directory.
 *
 * The statfs(2) `f_type` magic numbers of network, parallel and FUSE file systems
 * (linux/magic.h, and the vendors' headers for those outside the kernel tree).
 */
export const networkFilesystems: ReadonlyMap<number, string> = new Map([
  [0x6969, 'NFS'],
  [0x517b, 'SMB'],
  [0xff534d42, 'CIFS'],
  [0xfe534d42, 'SMB2'],
  [0x0bd00bd0, 'Lustre'],
  [0x47504653, 'GPFS (Spectrum Scale)'],
  [0x00c36400, 'CephFS'],
  [0x19830326, 'BeeGFS'],
  [0x20030528, 'OrangeFS'],
  [0x5346414f, 'AFS'],
  [0x6b414653, 'kAFS'],
  [0x01021997, '9p'],
  [0x65735546, 'FUSE'],
]);

/** A few local ones, to name them in messages. Any type not in the network table counts as local. */
const localFilesystems: ReadonlyMap<number, string> = new Map([
  [0xef53, 'ext4'],
  [0x58465342, 'xfs'],
  [0x9123683e, 'btrfs'],
  [0x01021994, 'tmpfs'],
  [0x794c7630, 'overlayfs'],
  [0x2fc12fc1, 'zfs'],
]);

export interface FilesystemVerdict {
  /** The file system's name, or its magic number in hex when pxeforge does not know it. */
  name: string;
  local: boolean;
}

/** The verdict on a statfs `f_type`. */
export function filesystemVerdict(type: number): FilesystemVerdict {
  // statfs reports f_type as a signed long on some platforms: compare the unsigned 32 bits.
  const magic = type >>> 0;
  const network = networkFilesystems.get(magic);
  if (network !== undefined) return { name: network, local: false };
  return { name: localFilesystems.get(magic) ?? `0x${magic.toString(16).padStart(8, '0')}`, local: true };
}

/**
 * Refuses `dir` (created if missing) when it is on a network, parallel or FUSE file system.
 * `what` names the directory's use; `setting` says where it is configured.
 */
export async function requireLocalFilesystem(dir: string, what: string, setting: string): Promise<FilesystemVerdict> {
  await mkdir(dir, { recursive: true });
  const verdict = filesystemVerdict((await statfs(dir)).type);
  if (!verdict.local) {
    throw new UserError('WORK_ON_NETWORK_FS', `${what} ${dir} is on ${verdict.name}, a network file system: overlayfs cannot use it`, {
      hint: `${setting} must name a directory on a local disk (ext4, xfs, btrfs, tmpfs); the store and the inputs may stay on the shared file system`,
    });
  }
  return verdict;
}
