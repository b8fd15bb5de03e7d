import path from 'node:path';

import { applyNodeFilesProgram, nodeStagingDir } from '../formats/node-programs.js';

/**
 * What a node receives at boot beside its image: its own files (templated node files, site
 * secrets, its managed SSH host key), packed into one small archive per node that the boot
 * loader loads as an extra initrd. docs/node-files.md describes the whole path.
 */

/** One entry of a node's archive, as the node will have it. */
export interface NodeFile {
  /** Absolute path on the node, normalized: starts with `/`, no empty, `.` or `..` component, no trailing `/`. */
  path: string;
  kind: 'file' | 'directory';
  /** The bytes of a file (undefined for a directory). */
  content?: Buffer;
  uid: number;
  gid: number;
  /** Permission bits (within 0o7777). */
  mode: number;
  /** Where it comes from, for previews and problems: `nodefiles/base/etc/hosts.liquid`, `secret munge.key`, `managed SSH host key`. */
  source: string;
  /** Secret content (site secrets, private host keys): never shown, logged or written anywhere but the node's archive. */
  secret: boolean;
  /**
   * Directories only: owner and mode are applied even when the directory already exists on
   * the node (a node file set's metadata names it). Other directories are only made when missing.
   */
  explicit?: boolean;
}

/** Everything one node receives, sorted by path (parents before children). */
export interface NodeFiles {
  host: string;
  mac: string;
  group: string;
  files: NodeFile[];
}

/** Owner names of an image version → numeric ids (recorded in its manifest at build). */
export interface Accounts {
  users: Record<string, number>;
  groups: Record<string, number>;
}

/**
 * Archive layout. Every entry sits under one staging directory, never at its final path: the
 * node moves the files into place itself (`applyNodeFilesProgram`), so that no directory the
 * image has is replaced by an archive entry.
 *
 *   .pxeforge-node/                  0700 root
 *   .pxeforge-node/root/<path>       each NodeFile, with its owner and mode
 *   .pxeforge-node/explicit-dirs     node paths (one per line) of directories whose owner and mode apply even when they exist
 */
export { nodeStagingDir };

/**
 * The program in every image that moves a staged archive into place:
 * `apply-node-files <staging dir> <root>`; run before the real root's PID 1 starts (whole-root
 * initramfs: by /init; squashfs: by the netboot initrd, chrooted into the new root).
 */
export { applyNodeFilesProgram };

/** Tree-relative directory of node archives: `pxeforge/nodes/<sha256>.cpio`. */
export const nodeArchiveDir = 'nodes';
export const nodeArchiveExtension = '.cpio';

/**
 * Secrets directory layout (0700, outside git, the store and the tree):
 *   <secrets>/<name>                                   a site secret (e.g. munge.key)
 *   <secrets>/host-keys/<host>/ssh_host_ed25519_key    a node's managed host key (0600), and its .pub
 */
export const hostKeysDir = 'host-keys';
export const hostKeyName = 'ssh_host_ed25519_key';

export function hostKeyFiles(secretsDir: string, host: string): { private: string; public: string } {
  const base = path.join(secretsDir, hostKeysDir, host, hostKeyName);
  return { private: base, public: `${base}.pub` };
}
