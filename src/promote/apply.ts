import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import type { BuildSettings, SiteTree } from '../site/site-config.js';
import type { Manifest } from '../store/manifest.js';
import { manifestRecord } from '../store/manifest-schema.js';
import { parseRecord } from '../store/record.js';
import { acquireTreeLock, currentUser, describeTakeover, removeLockLeftovers, sudoUser } from './lock.js';
import { planNodeArchives, writeNodeArchives } from './node-archives.js';
import { type NodeArchiveRef, renderGeneration, versionKey, type VersionInfo } from './render.js';
import { privateFileMode, readCurrent, readHistoryFile, type HistoryEntry, type TreePaths, type TreeState } from './tree.js';
import { assertEntryDirs, assertNoObstacles, entryDirsOf } from './tree-guard.js';
import { treeWriteError } from './tree-write-error.js';
import {
  conflictError,
  createEntries,
  listGenerations,
  planEntries,
  removeEntries,
  staleEntries,
  switchCurrent,
  writeGeneration,
} from './write-generation.js';

export interface TreeTools {
  site: BuildSettings & SiteTree;
  paths: TreePaths;
  emit: Emit;
  signal: AbortSignal;
  /** How long to wait for another promotion holding the tree lock. */
  waitMs: number;
}

/** What a change asks of the tree, decided under the lock from the current state. */
export interface ChangeDecision {
  /** The new channels state; undefined: nothing to do (with `nothing` saying why). */
  channels?: TreeState['channels'];
  /** The rollouts in progress of the new state; undefined: those of the current state, unchanged. */
  rollouts?: TreeState['rollouts'];
  change?: Omit<HistoryEntry, 'generation' | 'at' | 'user' | 'host'>;
  nothing?: string;
  /** A version to place in the tree (from the store) once the change is known to be possible. */
  place?: { manifest: Manifest; run: () => Promise<void> };
  /**
   * Node archives to keep as they are, by MAC (a rollback restores those of the generation it
   * goes back to; null: none); every other member with node files gets an archive made from pxeforge.yaml now.
   */
  reuseNodes?: ReadonlyMap<string, NodeArchiveRef | null>;
}

export interface ChangeResult {
  generation: number | undefined;
  previousGeneration: number | undefined;
  entry: HistoryEntry | undefined;
  nothing?: string;
  /** Node groups whose image has never been promoted to their channel (they boot as unknown nodes). */
  waiting: TreeState['groups'];
  siteOwned: string[];
  timings: Record<string, number>;
  /** Node archives of the new generation: written now, or already in the tree (content-addressed). */
  nodeArchives?: { nodes: number; written: number; kept: number };
}

/**
 * Runs one change of the tree under the tree lock: decide from the current state, render a
 * complete new generation, check entry points against the site's own files, write the
 * generation, flip `current`, append history. Until the flip nothing a node reads has
 * changed; a process killed at any point leaves the old or the new generation current.
 */
export async function applyChange(
  tools: TreeTools,
  command: string,
  decide: (current: TreeState | undefined, history: HistoryEntry[]) => Promise<ChangeDecision>,
): Promise<ChangeResult> {
  const { paths, emit } = tools;
  const timings: Record<string, number> = {};
  let mark = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round((now - mark) * 10) / 10;
    mark = now;
  };
  const fresh = !(await stat(paths.base).then(
    () => true,
    () => false,
  ));
  const lock = await acquireTreeLock(paths.lock, { command, waitMs: tools.waitMs, emit, signal: tools.signal }).catch((error: unknown) => {
    throw treeWriteError(error, paths);
  });
  lap('lock');
  let failed = true;
  let createdEntryDirs: string[] = [];
  try {
    await assertNoObstacles(paths);
    await removeLeftovers(paths);
    const current = await readCurrent(paths);
    const history = await reconcileHistory(paths, current?.state, emit);
    const decision = await decide(current?.state, history);
    lap('decide');
    if (decision.channels === undefined || decision.change === undefined) {
      failed = false;
      return {
        generation: current?.generation,
        previousGeneration: current?.generation,
        entry: undefined,
        nothing: decision.nothing,
        waiting: [],
        siteOwned: [],
        timings,
      };
    }
    const existing = await listGenerations(paths);
    const generation = Math.max(0, current?.generation ?? 0, ...existing) + 1;
    const rollouts = withoutEmpty(decision.rollouts ?? current?.state.rollouts);
    const versions = await readVersionInfos(paths, decision.channels, decision.place?.manifest, rollouts);
    // Node files first: a problem with them stops the change before anything is written.
    const nodePlan = await planNodeArchives(tools.site, paths, decision.channels, versions, {
      signal: tools.signal,
      reuse: decision.reuseNodes,
    });
    lap('node files');
    const rendering = renderGeneration({
      generation,
      channels: decision.channels,
      versions,
      site: tools.site,
      nodeArchives: nodePlan.refs,
      rollouts,
    });
    lap('render');
    await assertEntryDirs(paths, entryDirsOf(rendering.entries.keys()));
    const entries = await planEntries(paths, rendering);
    if (entries.conflicts.length > 0) throw conflictError(entries.conflicts, paths.root);
    for (const entry of entries.siteOwned) rendering.entries.delete(entry);
    lap('check entries');
    if (decision.place !== undefined) {
      await decision.place.run();
      lap('place artifacts');
    }
    const archives = await writeNodeArchives(paths, nodePlan.packed);
    lap('node archives');
    const entry: HistoryEntry = {
      generation,
      at: new Date().toISOString(),
      user: currentUser(),
      sudoUser: sudoUser(),
      host: os.hostname(),
      ...decision.change,
      ...(lock.tookOver === undefined ? {} : { recovered: describeTakeover(lock.tookOver) }),
    };
    const state: TreeState = {
      schemaVersion: 1,
      generation,
      createdAt: entry.at,
      channels: decision.channels,
      change: entry,
      groups: rendering.groups,
      files: rendering.referenced,
      entries: Object.fromEntries(rendering.entries),
      ...(Object.keys(rendering.nodes).length > 0 ? { nodes: rendering.nodes } : {}),
      ...(rollouts === undefined ? {} : { rollouts }),
    };
    await writeGeneration(paths, generation, rendering, state);
    lap('write generation');
    createdEntryDirs = await createEntries(paths, entries);
    lap('entries');
    await switchCurrent(paths, generation);
    lap('switch');
    await appendHistory(paths, entry);
    lap('history');
    await removeEntries(paths, await staleEntries(paths, rendering.entries));
    lap('stale entries');
    failed = false;
    return {
      generation,
      previousGeneration: current?.generation,
      entry,
      waiting: rendering.groups.filter((group) => group.version === null),
      siteOwned: entries.siteOwned,
      timings,
      nodeArchives: { nodes: Object.keys(rendering.nodes).length, ...archives },
    };
  } catch (error) {
    throw treeWriteError(error, paths);
  } finally {
    await lock.release();
    if (failed) await undoFailedChange(paths, fresh, createdEntryDirs);
    else if (fresh) await rmdir(paths.base).catch(() => undefined); // nothing to do: not even the lock's directory stays
  }
}

/**
 * A change that failed before its switch left nodes on the old generation; what it wrote is
 * a leftover the next change removes. A failed first change leaves no trace at all: the
 * `pxeforge/` directory it made (lock included) and the entry directories it made go.
 */
async function undoFailedChange(paths: TreePaths, fresh: boolean, createdEntryDirs: readonly string[]): Promise<void> {
  if (!fresh) return;
  if ((await lstat(paths.current).catch(() => undefined)) !== undefined) return; // switched after all: keep it
  await rm(paths.base, { recursive: true, force: true });
  for (const dir of [...createdEntryDirs].sort().reverse()) {
    const full = path.join(paths.root, dir);
    for (const name of await readdir(full).catch(() => [] as string[])) await rm(path.join(full, name), { force: true });
    await rmdir(full).catch(() => undefined);
  }
}

/** Rollouts without the images that have no moved node left, and channels without images; undefined when none is left. */
function withoutEmpty(rollouts: TreeState['rollouts']): TreeState['rollouts'] {
  const kept = Object.entries(rollouts ?? {})
    .map(
      ([channel, images]) =>
        [channel, Object.fromEntries(Object.entries(images).filter(([, r]) => Object.keys(r.nodes).length > 0))] as const,
    )
    .filter(([, images]) => Object.keys(images).length > 0);
  return kept.length === 0 ? undefined : Object.fromEntries(kept);
}

/** Versions the new state serves (to whole channels and to the moved nodes of rollouts) → what rendering needs from their placed manifests. */
export async function readVersionInfos(
  paths: TreePaths,
  channels: TreeState['channels'],
  placing: Manifest | undefined,
  rollouts?: TreeState['rollouts'],
): Promise<Map<string, VersionInfo>> {
  const versions = new Map<string, VersionInfo>();
  if (placing !== undefined) versions.set(versionKey(placing.name, placing.version), versionInfo(placing));
  const served = [...Object.values(channels), ...Object.values(rollouts ?? {})].flatMap((images) =>
    Object.entries(images).map(([image, { version }]) => ({ image, version })),
  );
  for (const { image, version } of served) {
    const key = versionKey(image, version);
    if (!versions.has(key)) versions.set(key, versionInfo(await readPlacedManifest(paths, image, version)));
  }
  return versions;
}

function versionInfo(manifest: Manifest): VersionInfo {
  return {
    format: manifest.format,
    cmdline: manifest.kernel.cmdline,
    artifacts: manifest.artifacts,
    accounts: manifest.accounts,
    appliesNodeFiles: manifest.nodeFiles !== undefined,
  };
}

export async function readPlacedManifest(paths: TreePaths, image: string, version: string): Promise<Manifest> {
  const file = path.join(paths.images, image, version, 'manifest.json');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    throw new UserError('VERSION_NOT_PLACED', `${image}@${version} is not in the PXE tree any more (${file} is missing)`, {
      hint: 'it was removed by `pxeforge gc` or by hand; promote it again from the store',
    });
  }
  return parseRecord(file, text, manifestRecord);
}

/**
 * A promotion killed between the switch and the history append leaves `current` without
 * its history line: the next change under the lock appends it (with its original time).
 */
async function reconcileHistory(paths: TreePaths, current: TreeState | undefined, emit: Emit): Promise<HistoryEntry[]> {
  const { entries: history, damaged } = await readHistoryFile(paths);
  for (const { line, problem } of damaged)
    emit({ type: 'warning', message: `${paths.history}:${line}: ${problem}; the line is kept as it is and skipped` });
  if (current !== undefined && !history.some((entry) => entry.generation === current.generation)) {
    await appendHistory(paths, current.change);
    history.push(current.change);
  }
  return history;
}

async function appendHistory(paths: TreePaths, entry: HistoryEntry): Promise<void> {
  // One write of one line: appends from one writer at a time (the lock) never interleave.
  // O_NOFOLLOW: a symlink planted as history.jsonl is refused by the kernel, never appended to.
  const handle = await open(
    paths.history,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
    privateFileMode,
  );
  try {
    await handle.chmod(privateFileMode); // also for a history written before the mode was private
    await handle.write(`${JSON.stringify(entry)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Half-written generations, placements and links of interrupted promotions (we hold the lock). */
async function removeLeftovers(paths: TreePaths): Promise<void> {
  await removeLockLeftovers(paths.lock);
  for (const name of await readdir(paths.generations).catch(() => [] as string[])) {
    if (name.startsWith('.tmp-')) await rm(path.join(paths.generations, name), { recursive: true, force: true });
  }
  for (const image of await readdir(paths.images).catch(() => [] as string[])) {
    for (const name of await readdir(path.join(paths.images, image)).catch(() => [] as string[])) {
      if (name.startsWith('.tmp-')) await rm(path.join(paths.images, image, name), { recursive: true, force: true });
    }
  }
  for (const name of await readdir(paths.nodes).catch(() => [] as string[])) {
    if (name.startsWith('.tmp-')) await rm(path.join(paths.nodes, name), { force: true });
  }
  await rm(`${paths.current}.tmp-${process.pid}`, { force: true });
  for (const name of await readdir(paths.base).catch(() => [] as string[])) {
    if (name.startsWith('current.tmp-')) await rm(path.join(paths.base, name), { force: true });
  }
}
