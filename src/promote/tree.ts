import { readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { UserError } from '../errors/user-error.js';
import { nodeArchiveDir } from '../nodes/node-file.js';
import { parseRecord } from '../store/record.js';
import { historyEntrySchema, treeStateSchema, treeStateSchemaVersion, type HistoryEntry, type TreeState } from './state-schema.js';

/**
 * The PXE/TFTP tree (contract in docs/promotion.md):
 *
 *   <tftp-root>/pxeforge/images/<name>/<version>/   artifacts + manifest.json, never changed
 *   <tftp-root>/pxeforge/generations/<n>/           one complete rendering of every boot config
 *   <tftp-root>/pxeforge/nodes/<sha256>.cpio        node archives (per-node files), content-addressed, never changed
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
  /** Node archives: `<sha256>.cpio`. */
  nodes: string;
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
    nodes: path.join(base, nodeArchiveDir),
    current: path.join(base, 'current'),
    history: path.join(base, 'history.jsonl'),
    lock: path.join(base, 'lock'),
  };
}

export type { HistoryEntry, Served, TreeState } from './state-schema.js';

/**
 * Mode of the files only pxeforge and the admins read: history.jsonl, state.json, placed
 * manifests, the lock's owner.json. Nodes need none of them, and without the "other" read
 * bit no common PXE server hands them out: tftpd-hpa serves only world-readable files, and
 * dnsmasq and nginx run as users of their own (see docs/security.md).
 */
export const privateFileMode = 0o640;

export const stateFile = 'state.json';

/**
 * The generation `current` points at, or undefined for a tree nothing was promoted to.
 *
 * A tree that has generations but no `current` (removed, or pointing at a generation that is
 * gone) is one nodes cannot boot from: that is an error here, never "nothing promoted yet",
 * so that no change ever starts from an empty channel state and silently drops the others.
 * pxeforge does not guess which generation to restore; the error names the last one the
 * history switched to and how to put it back.
 */
export async function readCurrent(paths: TreePaths): Promise<{ generation: number; dir: string; state: TreeState } | undefined> {
  const target = await readlink(paths.current).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    if (error.code === 'EINVAL') throw damaged(paths, `${paths.current} is not a symlink`);
    throw error;
  });
  if (target === undefined) {
    const generations = (await readdir(paths.generations).catch(() => [] as string[])).filter(
      (name) => generationNumber(name) !== undefined,
    );
    if (generations.length === 0) return undefined;
    throw damaged(
      paths,
      `${paths.current} is missing, but ${paths.generations} holds ${generations.length} generation(s): nodes cannot boot from this tree`,
    );
  }
  const generation = currentGeneration(target);
  if (generation === undefined) throw damaged(paths, `${paths.current} points at ${target}, which is not a generation`);
  const dir = path.join(paths.generations, String(generation));
  const text = await readFile(path.join(dir, stateFile), 'utf8').catch(() => undefined);
  if (text === undefined)
    throw damaged(
      paths,
      `${paths.current} points at generation ${generation}, which is missing or incomplete (${path.join(dir, stateFile)} cannot be read)`,
    );
  return { generation, dir, state: parseState(paths, path.join(dir, stateFile), text) };
}

/** A generation's state.json; damaged (not JSON, not a state) is a damaged tree: TREE_DAMAGED, naming the file and field. */
export function parseState(paths: TreePaths, file: string, text: string): TreeState {
  return parseRecord(file, text, {
    what: 'tree state',
    schema: treeStateSchema,
    schemaVersion: treeStateSchemaVersion,
    damaged: (message) => damaged(paths, message),
  });
}

/** A generation's state.json by generation number. */
export async function readState(paths: TreePaths, generation: number): Promise<TreeState> {
  const file = path.join(paths.generations, String(generation), stateFile);
  return parseState(paths, file, await readFile(file, 'utf8'));
}

function damaged(paths: TreePaths, message: string): UserError {
  return new UserError('TREE_DAMAGED', message, {
    hint: `nothing was changed. \`pxeforge verify\` lists the generations and history; put the switch back on the generation nodes last booted (the newest complete one the history names), e.g. \`ln -sfn generations/<n> ${paths.current}\`, then run \`pxeforge verify\` again`,
  });
}

/** The generation a `current` link target names (`generations/<n>`, nothing else), or undefined. */
export function currentGeneration(target: string): number | undefined {
  const [dir, name, ...rest] = target.split('/');
  return dir === 'generations' && rest.length === 0 && name !== undefined ? generationNumber(name) : undefined;
}

export function generationNumber(name: string): number | undefined {
  return /^[1-9]\d*$/.test(name) ? Number(name) : undefined;
}

/** The tree-relative directory of a placed image version. */
export function placedDir(name: string, version: string): string {
  return `${treeDirName}/images/${name}/${version}`;
}

/** A history line as the history reader takes it: the fields it shows, anything else kept as it is. */
const historyLine = z.looseObject(
  historyEntrySchema.pick({
    generation: true,
    at: true,
    user: true,
    host: true,
    action: true,
    channel: true,
    image: true,
    from: true,
    to: true,
    reason: true,
  }).shape,
);

export interface HistoryFile {
  entries: HistoryEntry[];
  /** Lines that are not history entries (1-based line numbers), shown but never fatal. */
  damaged: { line: number; problem: string }[];
}

/**
 * Reads history.jsonl. A damaged line (a torn write, a hand edit) is reported with its line
 * number and skipped: the audit log stays readable and the tree stays usable.
 */
export async function readHistoryFile(paths: TreePaths): Promise<HistoryFile> {
  const text = await readFile(paths.history, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const result: HistoryFile = { entries: [], damaged: [] };
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      result.damaged.push({ line: index + 1, problem: 'not valid JSON' });
      continue;
    }
    const checked = historyLine.safeParse(parsed);
    if (checked.success) result.entries.push(checked.data as unknown as HistoryEntry);
    else
      result.damaged.push({
        line: index + 1,
        problem: `not a history entry (${checked.error.issues[0]?.path.join('.') || 'line'}: ${checked.error.issues[0]?.message ?? 'invalid'})`,
      });
  }
  return result;
}

export async function readHistory(paths: TreePaths): Promise<HistoryEntry[]> {
  return (await readHistoryFile(paths)).entries;
}
