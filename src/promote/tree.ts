import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * The PXE/TFTP tree (contract in the README):
 *
 *   <tftp-root>/pxeforge/images/<name>/<version>/   artifacts + manifest.json, never changed
 *   <tftp-root>/pxeforge/generations/<n>/           one complete rendering of every boot config
 *   <tftp-root>/pxeforge/current -> generations/<n> the one atomic switch
 *   <tftp-root>/pxeforge/history.jsonl              append-only audit log
 *   <tftp-root>/boot.ipxe, pxelinux.cfg/…, grub/…   entry points: symlinks through `current`
 *
 * Everything outside `pxeforge/` belongs to the site except the entry symlinks, which are
 * recognisable by their target (`…pxeforge/current/…`), so pxeforge never needs a list of
 * what it created and can never mistake a site's file for its own.
 */
export interface TreePaths {
  root: string;
  base: string;
  images: string;
  generations: string;
  current: string;
  history: string;
  lock: string;
}

export const treeDirName = 'pxeforge';

export function treePaths(tftpRoot: string): TreePaths {
  const base = path.join(tftpRoot, treeDirName);
  return {
    root: tftpRoot,
    base,
    images: path.join(base, 'images'),
    generations: path.join(base, 'generations'),
    current: path.join(base, 'current'),
    history: path.join(base, 'history.jsonl'),
    lock: path.join(base, 'lock'),
  };
}

/** What one channel serves of one image. */
export interface Served {
  version: string;
  /** When and by whom this version became the channel's. */
  since: string;
  by: string;
  /** Earlier versions of this channel, most recent last: what `rollback` goes back to. */
  previous: string[];
  forced: boolean;
  /** sha256 of the test-report.json the promotion accepted, when there was one. */
  testReport: string | null;
  testPassed: boolean | null;
  commit: string | null;
  dirty: boolean;
}

/** One line of history.jsonl. */
export interface HistoryEntry {
  generation: number;
  at: string;
  user: string;
  host: string;
  /** refresh: node groups re-rendered from pxeforge.yaml, no channel changed (channel, image, to are null). */
  action: 'promote' | 'rollback' | 'refresh';
  channel: string | null;
  image: string | null;
  from: string | null;
  to: string | null;
  reason: string | null;
  forced: boolean;
  allowDirty: boolean;
  commit: string | null;
  dirty: boolean;
  testReport: string | null;
}

/** `generations/<n>/state.json`: what the generation serves, and the change that made it. */
export interface TreeState {
  schemaVersion: 1;
  generation: number;
  createdAt: string;
  /** channel → image → what it serves. */
  channels: Record<string, Record<string, Served>>;
  change: HistoryEntry;
  /** What each node group boots in this generation (for `status`). */
  groups: { name: string; image: string; channel: string; version: string | null; members: number; firmware: 'bios' | 'uefi' }[];
  /** Every file the generation's configs reference, tree-relative, with its sha256. */
  files: Record<string, { sha256: string; size: number }>;
  /** Entry points (tree-relative) → path inside the generation they resolve to. */
  entries: Record<string, string>;
}

export const stateFile = 'state.json';

/** The generation `current` points at, or undefined for a tree nothing was promoted to. */
export async function readCurrent(paths: TreePaths): Promise<{ generation: number; dir: string; state: TreeState } | undefined> {
  const target = await readlink(paths.current).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (target === undefined) return undefined;
  const generation = generationNumber(path.basename(target));
  if (generation === undefined) throw new Error(`${paths.current} points at ${target}, which is not a generation`);
  const dir = path.join(paths.generations, String(generation));
  const state = JSON.parse(await readFile(path.join(dir, stateFile), 'utf8')) as TreeState;
  return { generation, dir, state };
}

export function generationNumber(name: string): number | undefined {
  return /^[1-9]\d*$/.test(name) ? Number(name) : undefined;
}

/** The tree-relative directory of a placed image version. */
export function placedDir(name: string, version: string): string {
  return `${treeDirName}/images/${name}/${version}`;
}

export async function readHistory(paths: TreePaths): Promise<HistoryEntry[]> {
  const text = await readFile(paths.history, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HistoryEntry);
}
