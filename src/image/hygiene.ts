import { lstat, open } from 'node:fs/promises';
import path from 'node:path';

import type { DistroBackend, ImageGlob } from '../distros/backend.js';
import { distros } from '../distros/registry.js';
import { UserError } from '../errors/user-error.js';
import {
  imageTarget,
  readImageDir,
  readImageFile,
  removeImagePath,
  statImagePath,
  walkImageDir,
  writeImageFile,
} from '../rootfs/image-files.js';
import { resetResolvConf, type ResolvConfOutcome } from './resolv-conf.js';

/** What hygiene removed and found; stored in the manifest. */
export interface HygieneReport {
  removed: string[];
  sshHostKeys: 'removed' | 'none';
  sshKeysAtBoot: 'drop-in' | 'no sshd';
  machineId: 'empty';
  privateKeys: { allowed: string[] };
  /** Absent in manifests written before hygiene reset /etc/resolv.conf. */
  resolvConf?: ResolvConfOutcome;
}

export interface HygieneOptions {
  /** The image's distro: its package manager's lists, caches and logs go too. */
  distro: DistroBackend;
  /** `keep` when one of the recipe's overlays supplies /etc/resolv.conf (see resolv-conf.ts). */
  resolvConf?: 'reset' | 'keep';
}

/** Paths every node must make its own, or that only describe the build (the distro adds its own). */
const removeGlobs: ImageGlob[] = [
  { dir: 'etc/ssh', match: /^ssh_host_.*_key(\.pub)?$/ },
  { dir: 'var/lib/systemd', match: /^random-seed$/ },
  { dir: 'var/cache/ldconfig', match: /^aux-cache$/ },
  { dir: 'var/log', match: /^journal$/ },
  { dir: 'root', match: /^\.bash_history$/ },
  { dir: 'tmp', match: /.*/ },
  { dir: 'var/tmp', match: /.*/ },
];

const sshKeygenDropIn = `# pxeforge: the image carries no SSH host keys; each node makes its own at boot.
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
`;

/**
 * Makes the root fit to boot on many nodes at once: no SSH host keys (sshd makes them at
 * boot), an empty machine-id (systemd makes one at boot), no DNS settings of the build host,
 * no package lists, caches or build logs, and no private keys unless the recipe allows them. A private key left behind fails
 * the build.
 */
export async function cleanImage(root: string, allowPrivateKeys: readonly string[], options: HygieneOptions): Promise<HygieneReport> {
  const removed: string[] = [];
  // Paths are image paths, resolved in the image (see image-files.ts): a `/var/tmp -> /tmp`
  // link empties the image's /tmp, never the build host's.
  for (const { dir, match } of [...removeGlobs, ...options.distro.hygiene.remove]) {
    for (const name of await readImageDir(root, `/${dir}`)) {
      if (!match.test(name)) continue;
      await removeImagePath(root, `/${dir}/${name}`);
      removed.push(`/${dir}/${name}`);
    }
  }
  const hadKeys = removed.some((item) => item.startsWith('/etc/ssh/ssh_host_'));
  await writeImageFile(root, '/etc/machine-id', '', 0o444);
  await removeImagePath(root, '/var/lib/dbus/machine-id');
  const resolvConf = await resetResolvConf(root, options.resolvConf ?? 'reset');
  const hasSshd = (await statImagePath(root, '/usr/sbin/sshd')) !== undefined;
  if (hasSshd) await writeImageFile(root, '/etc/systemd/system/ssh.service.d/pxeforge-host-keys.conf', sshKeygenDropIn);
  const found = await findPrivateKeys(root);
  const forbidden = found.filter((file) => !allowPrivateKeys.includes(file));
  if (forbidden.length > 0) {
    throw new UserError('PRIVATE_KEY_IN_IMAGE', `the image holds private keys: ${forbidden.join(', ')}`, {
      hint: 'remove them in an overlay or hook, or list them under hygiene.allowPrivateKeys if every node may share them',
    });
  }
  return {
    removed: removed.sort(),
    sshHostKeys: hadKeys ? 'removed' : 'none',
    sshKeysAtBoot: hasSshd ? 'drop-in' : 'no sshd',
    machineId: 'empty',
    privateKeys: { allowed: found },
    resolvConf,
  };
}

const keyMarker = /-----BEGIN (RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----/;
/** Where keys end up; the whole tree would take minutes to read for nothing. */
const keyDirs = ['etc', 'root', 'home', 'var/lib', 'opt', 'srv', 'usr/local'];

async function findPrivateKeys(root: string): Promise<string[]> {
  const found: string[] = [];
  for (const dir of keyDirs) {
    // The directory is found as the image would find it; below it, links are not followed.
    const top = await imageTarget(root, `/${dir}`);
    for (const entry of await walkImageDir(root, `/${dir}`)) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      const info = await lstat(file);
      if (info.size === 0 || info.size > 64 * 1024) continue;
      const handle = await open(file, 'r');
      try {
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(Math.min(info.size, 64 * 1024)), 0, Math.min(info.size, 64 * 1024), 0);
        if (keyMarker.test(buffer.subarray(0, bytesRead).toString('latin1')))
          found.push(path.posix.join('/', dir, path.relative(top, file)));
      } finally {
        await handle.close();
      }
    }
  }
  return found.sort();
}

/**
 * Checks an unpacked or mounted image against the hygiene rules (used by tests and `verify`):
 * no package lists of any distro pxeforge knows.
 */
export async function hygieneViolations(root: string): Promise<string[]> {
  const problems: string[] = [];
  const keys = (await readImageDir(root, '/etc/ssh')).filter((n) => /^ssh_host_/.test(n));
  if (keys.length > 0) problems.push(`SSH host keys in the image: ${keys.join(', ')}`);
  const machineId = (await readImageFile(root, '/etc/machine-id')) ?? '';
  if (machineId.trim() !== '') problems.push('machine-id is set in the image');
  for (const backend of Object.values(distros)) {
    const { dir, match, label } = backend.hygiene.lists;
    const lists = (await readImageDir(root, `/${dir}`)).filter((n) => match.test(n));
    if (lists.length > 0) problems.push(`${label} left in the image: ${lists.length}`);
  }
  return problems;
}
