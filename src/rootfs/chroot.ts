import { lstat, readFile, readlink } from 'node:fs/promises';

import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import { makeImageDir, readImageFile, removeImagePath, replaceWithSymlink, writeImageFile } from './image-files.js';
import { unmountAll } from './mounts.js';
import { resolveInRoot } from './root-path.js';

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
  const savedResolv = options.network ? await saveFile(root, '/etc/resolv.conf') : undefined;
  // Mount points are image paths, resolved in the image: a `/proc -> /x` link in the image
  // gets /proc mounted at <root>/x, never at the host's /x. Unmounted at the same places.
  const mountPoints: string[] = [];
  try {
    await removeImagePath(root, policyRcD);
    await writeImageFile(root, policyRcD, '#!/bin/sh\n# pxeforge: no daemon starts while the image is built\nexit 101\n', 0o755);
    if (options.network) {
      await removeImagePath(root, '/etc/resolv.conf');
      await writeImageFile(root, '/etc/resolv.conf', await readFile('/etc/resolv.conf').catch(() => ''));
    }
    for (const [type, source, target, extra] of [
      ['proc', 'proc', '/proc', []],
      ['sysfs', 'sysfs', '/sys', ['-o', 'ro']],
      ['bind', '/dev', '/dev', []],
    ] as const) {
      const point = await makeImageDir(root, target);
      mountPoints.unshift(point);
      const how = type === 'bind' ? ['--bind'] : ['-t', type, ...extra];
      await run(['mount', ...how, source, point], { emit: options.emit, stage: options.stage });
    }
    return await body();
  } finally {
    for (const point of mountPoints) await unmountAll(point);
    await removeImagePath(root, policyRcD);
    if (savedResolv !== undefined) await restoreFile(root, '/etc/resolv.conf', savedResolv);
  }
}

const policyRcD = '/usr/sbin/policy-rc.d';

type Saved = { kind: 'none' } | { kind: 'link'; target: string } | { kind: 'file'; content: string };

/** What is at `imagePath` itself (a link is kept as a link, not followed). */
async function saveFile(root: string, imagePath: string): Promise<Saved> {
  const at = await resolveInRoot(root, imagePath);
  const info = await lstat(at).catch(() => undefined);
  if (info === undefined) return { kind: 'none' };
  if (info.isSymbolicLink()) return { kind: 'link', target: await readlink(at) };
  return { kind: 'file', content: (await readImageFile(root, imagePath)) ?? '' };
}

async function restoreFile(root: string, imagePath: string, saved: Saved): Promise<void> {
  await removeImagePath(root, imagePath);
  if (saved.kind === 'link') await replaceWithSymlink(root, imagePath, saved.target);
  if (saved.kind === 'file') await writeImageFile(root, imagePath, saved.content);
}
