import { lstat, mkdir, readdir, readlink, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { entryDirs } from '../boot-loaders/registry.js';
import { ExitCode, UserError } from '../errors/user-error.js';
import { run } from '../exec/run.js';
import { eachLimited } from '../progress/each-limited.js';
import { fsyncPath } from '../store/store.js';
import type { Rendering } from './render.js';
import { generationNumber, privateFileMode, stateFile, treeDirName, type TreePaths, type TreeState } from './tree.js';
import { entryDirsOf, isRealDir } from './tree-guard.js';

/** How many file operations run at once when writing a generation (10,000 nodes). */
const concurrency = 64;

/** Flushes a whole filesystem in one call (syncfs), instead of one fsync per small file. */
export async function syncFilesystem(dir: string): Promise<void> {
  await run(['sync', '--file-system', dir]);
}

/**
 * Writes a generation beside the others under a hidden name, flushes it, and renames it
 * to its number: a generation directory either is complete or does not exist.
 */
export async function writeGeneration(paths: TreePaths, generation: number, rendering: Rendering, state: TreeState): Promise<string> {
  await mkdir(paths.generations, { recursive: true });
  const staged = path.join(paths.generations, `.tmp-${generation}-${process.pid}`);
  await rm(staged, { recursive: true, force: true });
  const entries = [...rendering.files.entries()];
  const dirs = new Set(entries.map(([file]) => path.dirname(file)).filter((dir) => dir !== '.'));
  for (const dir of [...dirs].sort()) await mkdir(path.join(staged, dir), { recursive: true });
  await eachLimited(entries, concurrency, async ([file, rendered]) => {
    const target = path.join(staged, file);
    if (rendered.kind === 'file') await writeFile(target, rendered.content, { mode: 0o644 });
    else await symlink(rendered.target, target);
  });
  await writeFile(path.join(staged, stateFile), `${JSON.stringify(state, null, 1)}\n`, { mode: privateFileMode });
  await syncFilesystem(staged);
  const final = path.join(paths.generations, String(generation));
  await rename(staged, final);
  await fsyncPath(paths.generations);
  return final;
}

/** The one atomic switch: a new symlink renamed over `current`. */
export async function switchCurrent(paths: TreePaths, generation: number): Promise<void> {
  const staged = `${paths.current}.tmp-${process.pid}`;
  await rm(staged, { force: true });
  await symlink(`generations/${generation}`, staged);
  await fsyncPath(paths.base);
  await rename(staged, paths.current);
  await fsyncPath(paths.base);
}

/** The link target an entry point gets: relative, through `current`. */
export function entryTarget(entry: string, generationPath: string): string {
  return path.relative(path.dirname(`/${entry}`), `/${treeDirName}/current/${generationPath}`);
}

/** Whether a symlink target is one of pxeforge's entry links (and so pxeforge's to change or remove). */
export function isOwnEntryTarget(target: string): boolean {
  return /^(\.\.\/)*pxeforge\/current\//.test(target);
}

export interface EntryPlan {
  create: { entry: string; target: string }[];
  /** Optional entries the site owns (e.g. its own pxelinux.cfg/default): left alone. */
  siteOwned: string[];
  /** Entries pxeforge needs where the site has its own file: the promotion is refused. */
  conflicts: string[];
}

/** Checks every entry point against what the TFTP root holds; nothing is written. */
export async function planEntries(paths: TreePaths, rendering: Rendering): Promise<EntryPlan> {
  const plan: EntryPlan = { create: [], siteOwned: [], conflicts: [] };
  const checks = [...rendering.entries.entries()];
  await eachLimited(checks, concurrency, async ([entry, generationPath]) => {
    const target = entryTarget(entry, generationPath);
    const file = path.join(paths.root, entry);
    const info = await lstat(file).catch(() => undefined);
    if (info === undefined) {
      plan.create.push({ entry, target });
      return;
    }
    if (info.isSymbolicLink()) {
      const existing = await readlink(file);
      if (existing === target) return;
      if (isOwnEntryTarget(existing)) {
        plan.create.push({ entry, target });
        return;
      }
    }
    (rendering.optionalEntries.has(entry) ? plan.siteOwned : plan.conflicts).push(entry);
  });
  plan.conflicts.sort();
  plan.create.sort((a, b) => a.entry.localeCompare(b.entry));
  return plan;
}

export function conflictError(conflicts: readonly string[], root: string): UserError {
  const shown = conflicts.slice(0, 20).map((entry) => `  ${path.join(root, entry)}`);
  return new UserError(
    'TREE_CONFLICT',
    `the TFTP root already holds ${conflicts.length} file(s) pxeforge would have to replace:\n${shown.join('\n')}${conflicts.length > 20 ? `\n  ... and ${conflicts.length - 20} more` : ''}`,
    {
      hint: 'nothing was changed. pxeforge never overwrites files it did not create: move these aside (or take these MACs out of pxeforge.yaml) and promote again',
      exitCode: ExitCode.invalidInput,
    },
  );
}

/**
 * Creates entry links. A new entry points into a generation `current` may not reach yet:
 * until the switch, the node falls back to the default config as before.
 */
export async function createEntries(paths: TreePaths, plan: EntryPlan): Promise<string[]> {
  const created: string[] = [];
  for (const dir of entryDirsOf(plan.create.map(({ entry }) => entry))) {
    // Checked by assertNoObstacles: each is a real directory or absent; a plain mkdir never follows a link.
    await mkdir(path.join(paths.root, dir)).then(
      () => created.push(dir),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
  }
  // Two passes, so that each entry directory is flushed once, not once per link (10,000 nodes):
  // all staged links, then their directories on disk; then every rename, then the directories
  // again (and the entry directories just made, in their parents) before `current` switches.
  const staged = (entry: string) => `${path.join(paths.root, entry)}.pxeforge-tmp`;
  await eachLimited(plan.create, concurrency, async ({ entry, target }) => {
    await rm(staged(entry), { force: true });
    await symlink(target, staged(entry));
  });
  const dirs = [...new Set(['.', ...created.map((made) => path.dirname(made)), ...plan.create.map(({ entry }) => path.dirname(entry))])];
  for (const dir of dirs) await fsyncPath(path.join(paths.root, dir));
  await eachLimited(plan.create, concurrency, async ({ entry }) => rename(staged(entry), path.join(paths.root, entry)));
  for (const dir of dirs) await fsyncPath(path.join(paths.root, dir));
  return created;
}

/** pxeforge's entry links that the current generation no longer needs (nodes left their groups). */
export async function staleEntries(paths: TreePaths, keep: ReadonlyMap<string, string>): Promise<string[]> {
  const stale: string[] = [];
  for (const dir of entryDirs) {
    // A symlinked entry directory is not pxeforge's: nothing is looked for (or removed) behind it.
    if (dir !== '.' && !(await isRealDir(path.join(paths.root, dir)))) continue;
    const entries = await readdir(path.join(paths.root, dir), { withFileTypes: true }).catch(() => []);
    await eachLimited(
      entries.filter((entry) => entry.isSymbolicLink()),
      concurrency,
      async (entry) => {
        const relative = dir === '.' ? entry.name : `${dir}/${entry.name}`;
        if (keep.has(relative)) return;
        const target = await readlink(path.join(paths.root, relative)).catch(() => '');
        // Also the `.pxeforge-tmp` links of an interrupted change: they point through current too.
        if (isOwnEntryTarget(target)) stale.push(relative);
      },
    );
  }
  return stale.sort();
}

export async function removeEntries(paths: TreePaths, entries: readonly string[]): Promise<void> {
  await eachLimited(entries, concurrency, async (entry) => {
    await unlink(path.join(paths.root, entry)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  });
}

/** Numbers of the complete generations on disk, ascending. */
export async function listGenerations(paths: TreePaths): Promise<number[]> {
  const names = await readdir(paths.generations).catch(() => [] as string[]);
  return names
    .map(generationNumber)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);
}
