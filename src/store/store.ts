import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';

import lockfile from 'proper-lockfile';

import { invalidInput } from '../errors/user-error.js';
import { parseImageRef } from './image-ref.js';
import { manifestRecord, type Manifest } from './manifest-schema.js';
import { readRecord } from './record.js';

/**
 * The image store (contract in docs/building.md): `<store>/images/<name>/<version>/` holds the
 * artifacts, manifest.json and build.log. A version appears only when complete: it is
 * written to a hidden sibling directory, synced, then renamed into place.
 */
export function imageDir(store: string, name: string): string {
  return path.join(store, 'images', name);
}

export function versionDir(store: string, name: string, version: string): string {
  return path.join(imageDir(store, name), version);
}

/** `20261125T120455Z-3fa9c1d2`: sorts by build time; the suffix is the inputs digest. */
export function newVersionName(now: Date, inputsDigest: string): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${inputsDigest.slice(0, 8)}`;
}

export async function listVersions(store: string, name: string): Promise<string[]> {
  const entries = await readdir(imageDir(store, name), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort();
}

export async function listImages(store: string): Promise<string[]> {
  const entries = await readdir(path.join(store, 'images'), { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/** How long a staging directory's lock lives without its build refreshing it (a killed build leaves it stale). */
const stagingLockStaleMs = 30_000;
const stagingPrefix = '.incoming-';

export interface StagedVersion {
  version: string;
  staged: string;
  /** Publishes the staged version: it becomes visible as `<store>/images/<name>/<version>`. */
  publish(): Promise<string>;
  /** Removes the staging directory (a build that failed); after `publish`, nothing to do. */
  discard(): Promise<void>;
}

/**
 * Picks the version name and creates its staging directory, held under a lock while the
 * build runs: the lock reserves the name (two builds of the same inputs in the same second
 * cannot both take it; the later one waits for the next second), and a build killed outright
 * (OOM-killed pod, SIGKILL) leaves a lock that goes stale, so that the next build of the image
 * removes what it staged.
 */
export async function stageVersion(store: string, name: string, inputsDigest: string, now: () => Date): Promise<StagedVersion> {
  const dir = imageDir(store, name);
  await mkdir(dir, { recursive: true });
  await removeAbandonedStaging(dir);
  for (;;) {
    const version = newVersionName(now(), inputsDigest);
    const staged = path.join(dir, `${stagingPrefix}${version}`);
    const taken = await exists(versionDir(store, name, version));
    const release = taken ? undefined : await lockStaging(staged);
    if (release !== undefined) {
      // The lock is ours: a directory of that name is one a killed build left behind.
      await rm(staged, { recursive: true, force: true });
      await mkdir(staged);
      let done = false;
      const finish = async () => {
        if (done) return;
        done = true;
        await release().catch(() => undefined);
      };
      return {
        version,
        staged,
        publish: async () => {
          const target = await publishVersion(staged, store, name, version);
          await finish();
          return target;
        },
        discard: async () => {
          if (done) return;
          await rm(staged, { recursive: true, force: true });
          await finish();
        },
      };
    }
    await sleep(1000);
  }
}

async function lockStaging(staged: string): Promise<(() => Promise<void>) | undefined> {
  return lockfile
    .lock(staged, {
      realpath: false,
      stale: stagingLockStaleMs,
      update: stagingLockStaleMs / 6,
      // Another process took the stale lock over (this build was stopped for longer than the
      // stale time): publishing then fails on its missing staging directory.
      onCompromised: () => undefined,
    })
    .catch((error: NodeJS.ErrnoException) => (error.code === 'ELOCKED' ? undefined : Promise.reject(error)));
}

/** Staging directories whose build is gone (no live lock): what a killed build staged. */
export async function removeAbandonedStaging(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isDirectory() || !entry.name.startsWith(stagingPrefix) || entry.name.endsWith('.lock')) continue;
    const staged = path.join(dir, entry.name);
    const locked = await lockfile.check(staged, { realpath: false, stale: stagingLockStaleMs });
    if (locked) continue;
    const release = await lockStaging(staged);
    if (release === undefined) continue; // taken just now
    try {
      await rm(staged, { recursive: true, force: true });
      removed.push(entry.name);
    } finally {
      await release().catch(() => undefined);
    }
  }
  return removed;
}

/** Whether something is at `file` (stat follows a link: a dangling one is nothing). */
export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

async function publishVersion(staged: string, store: string, name: string, version: string): Promise<string> {
  for (const file of await readdir(staged)) {
    // Versions are read by TFTP and HTTP servers running as other users, and never written again.
    await chmod(path.join(staged, file), 0o444);
    await fsyncPath(path.join(staged, file));
  }
  await fsyncPath(staged);
  const target = versionDir(store, name, version);
  await rename(staged, target);
  await fsyncPath(path.dirname(target));
  return target;
}

export async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** `name@version`, `name@latest` or `name` (latest) → an existing version. */
export async function resolveVersion(store: string, reference: string): Promise<{ name: string; version: string; dir: string }> {
  const { name, version: requested } = parseImageRef(reference);
  const versions = await listVersions(store, name);
  if (versions.length === 0) {
    throw invalidInput(
      'NO_SUCH_IMAGE',
      `no versions of image \`${name}\` in the store`,
      'build it first: pxeforge build recipes/<recipe>.yaml',
    );
  }
  const version = requested ?? versions.at(-1)!;
  if (!versions.includes(version)) {
    throw invalidInput('NO_SUCH_VERSION', `image \`${name}\` has no version \`${version}\``, `versions: ${versions.slice(-5).join(', ')}`);
  }
  return { name, version, dir: versionDir(store, name, version) };
}

export async function readManifest(dir: string): Promise<Manifest> {
  return readRecord(path.join(dir, 'manifest.json'), manifestRecord);
}
