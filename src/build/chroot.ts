import { chmod, copyFile, lstat, mkdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import { unmountAll } from './mounts.js';

export interface ChrootOptions {
  emit: Emit;
  stage: string;
  /** Give the chroot this host's resolv.conf (package downloads). */
  network?: boolean;
}

/**
 * Runs `body` with /proc, /sys and /dev mounted in the image root and daemons forbidden to
 * start (policy-rc.d). Everything is undone afterwards, also when `body` fails or is
 * aborted: the cleanup itself takes no abort signal, so Ctrl-C cannot skip it.
 */
export async function withChroot<T>(root: string, options: ChrootOptions, body: () => Promise<T>): Promise<T> {
  const policy = path.join(root, 'usr/sbin/policy-rc.d');
  const resolv = path.join(root, 'etc/resolv.conf');
  const savedResolv = options.network ? await saveLink(resolv) : undefined;
  try {
    await writeFile(policy, '#!/bin/sh\n# pxeforge: no daemon starts while the image is built\nexit 101\n');
    await chmod(policy, 0o755);
    if (options.network) {
      await rm(resolv, { force: true });
      await copyFile('/etc/resolv.conf', resolv).catch(() => writeFile(resolv, ''));
    }
    for (const [type, source, target, extra] of [
      ['proc', 'proc', 'proc', []],
      ['sysfs', 'sysfs', 'sys', ['-o', 'ro']],
    ] as const) {
      await mkdir(path.join(root, target), { recursive: true });
      await run(['mount', '-t', type, ...extra, source, path.join(root, target)], { emit: options.emit, stage: options.stage });
    }
    await mkdir(path.join(root, 'dev'), { recursive: true });
    await run(['mount', '--bind', '/dev', path.join(root, 'dev')], { emit: options.emit, stage: options.stage });
    return await body();
  } finally {
    await unmountAll(path.join(root, 'dev'));
    await unmountAll(path.join(root, 'sys'));
    await unmountAll(path.join(root, 'proc'));
    await rm(policy, { force: true });
    if (savedResolv !== undefined) await restoreLink(resolv, savedResolv);
  }
}

type Saved = { kind: 'none' } | { kind: 'link'; target: string } | { kind: 'file'; copy: string };

async function saveLink(file: string): Promise<Saved> {
  const info = await lstat(file).catch(() => undefined);
  if (info === undefined) return { kind: 'none' };
  if (info.isSymbolicLink()) return { kind: 'link', target: await readlink(file) };
  const copy = `${file}.pxeforge-saved`;
  await copyFile(file, copy);
  return { kind: 'file', copy };
}

async function restoreLink(file: string, saved: Saved): Promise<void> {
  await rm(file, { force: true });
  if (saved.kind === 'link') await symlink(saved.target, file);
  if (saved.kind === 'file') {
    await copyFile(saved.copy, file);
    await rm(saved.copy, { force: true });
  }
}
