import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';

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

/**
 * Picks the version name and creates its staging directory, which reserves the name: two
 * builds of the same inputs in the same second cannot both take it (mkdir is atomic); the
 * later one waits for the next second. `publishVersion` makes the version visible.
 */
export async function stageVersion(
  store: string,
  name: string,
  inputsDigest: string,
  now: () => Date,
): Promise<{ version: string; staged: string }> {
  await mkdir(imageDir(store, name), { recursive: true });
  for (;;) {
    const version = newVersionName(now(), inputsDigest);
    const staged = path.join(imageDir(store, name), `.incoming-${version}`);
    const taken = await stat(versionDir(store, name, version)).then(
      () => true,
      () => false,
    );
    if (
      !taken &&
      (await mkdir(staged).then(
        () => true,
        (error: NodeJS.ErrnoException) => (error.code === 'EEXIST' ? false : Promise.reject(error)),
      ))
    ) {
      return { version, staged };
    }
    await sleep(1000);
  }
}

export async function publishVersion(staged: string, store: string, name: string, version: string): Promise<string> {
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

export async function discardStaged(staged: string): Promise<void> {
  await rm(staged, { recursive: true, force: true });
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
