import { readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import type { Emit } from '../events/events.js';
import { acquireTreeLock } from './lock.js';
import { isNodeArchivePath } from './node-archives.js';
import { assertNoObstacles } from './tree-guard.js';
import { listGenerations } from './write-generation.js';
import { readCurrent, readState, type TreePaths } from './tree.js';

export interface GcResult {
  keptGenerations: number[];
  removedGenerations: number[];
  keptVersions: string[];
  removedVersions: string[];
  /** Node archives (`<sha256>.cpio`): those no kept generation names; absent when the tree has none. */
  nodeArchives?: { removed: string[]; kept: number };
}

/**
 * `pxeforge gc --keep N`: keeps `current` and the N-1 generations before it, and every image
 * version that a kept generation serves or that a channel could roll back to within its last
 * N versions, and every node archive a kept generation names. Everything else under
 * generations/, images/ and nodes/ goes: generations written but never switched to, versions
 * and node archives no longer named. Runs under the tree lock.
 */
export async function collectGarbage(
  paths: TreePaths,
  options: { keep: number; dryRun: boolean; waitMs: number; signal?: AbortSignal; emit?: Emit },
): Promise<GcResult> {
  const lock = await acquireTreeLock(paths.lock, {
    command: `gc --keep ${options.keep}`,
    waitMs: options.waitMs,
    emit: options.emit,
    signal: options.signal,
  });
  try {
    // Checked under the lock (acquiring it refuses a linked pxeforge/ itself): gc removes only real directories that pxeforge made, never what a symlink points at.
    await assertNoObstacles(paths);
    const current = await readCurrent(paths);
    const all = await listGenerations(paths);
    const kept = current === undefined ? [] : all.filter((n) => n <= current.generation).slice(-options.keep);
    if (current !== undefined && !kept.includes(current.generation)) kept.push(current.generation);
    const removedGenerations = all.filter((n) => !kept.includes(n));

    const referenced = new Set<string>();
    const archives = new Set<string>();
    for (const n of kept) {
      const state = await readState(paths, n);
      for (const file of Object.keys(state.files)) if (isNodeArchivePath(file)) archives.add(path.basename(file));
      for (const images of Object.values(state.channels)) {
        for (const [image, served] of Object.entries(images)) {
          referenced.add(`${image}@${served.version}`);
          for (const version of served.previous.slice(-options.keep)) referenced.add(`${image}@${version}`);
        }
      }
      // A rollout's version is served to its moved nodes.
      for (const images of Object.values(state.rollouts ?? {}))
        for (const [image, rollout] of Object.entries(images)) referenced.add(`${image}@${rollout.version}`);
    }
    const keptVersions: string[] = [];
    const removedVersions: string[] = [];
    for (const image of (await readdir(paths.images).catch(() => [] as string[])).sort()) {
      for (const version of (await readdir(path.join(paths.images, image))).sort()) {
        if (version.startsWith('.')) continue;
        (referenced.has(`${image}@${version}`) ? keptVersions : removedVersions).push(`${image}@${version}`);
      }
    }
    const removedArchives: string[] = [];
    let keptArchives = 0;
    for (const name of (await readdir(paths.nodes).catch(() => [] as string[])).sort()) {
      if (name.startsWith('.')) continue;
      if (archives.has(name)) keptArchives += 1;
      else removedArchives.push(name);
    }
    if (!options.dryRun) {
      // Renamed to a hidden name first: a removal cut short never leaves half a generation or version in view.
      for (const n of removedGenerations) await retireTreeDir(path.join(paths.generations, String(n)));
      for (const reference of removedVersions) {
        const [image, version] = reference.split('@') as [string, string];
        await retireTreeDir(path.join(paths.images, image, version));
      }
      // Same pattern for archives: out of sight by a rename, then deleted.
      for (const name of removedArchives) await retireTreeDir(path.join(paths.nodes, name));
    }
    return {
      keptGenerations: kept,
      removedGenerations,
      keptVersions,
      removedVersions,
      ...(removedArchives.length + keptArchives > 0 ? { nodeArchives: { removed: removedArchives, kept: keptArchives } } : {}),
    };
  } finally {
    await lock.release();
  }
}

/** Removes a directory (or a node archive) of the tree in two steps: renamed out of sight at once (nodes and readers never see it half deleted), then deleted. */
async function retireTreeDir(dir: string): Promise<void> {
  const hidden = path.join(path.dirname(dir), `.tmp-gc-${path.basename(dir)}-${process.pid}`);
  await rename(dir, hidden);
  await rm(hidden, { recursive: true, force: true });
}
