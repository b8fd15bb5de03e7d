import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import path from 'node:path';

import type { BootLoader, ConfigCheck } from '../boot-loaders/boot-loader.js';
import { bootLoaderOfConfig } from '../boot-loaders/registry.js';
import { rootUrlParameters } from '../formats/registry.js';
import { checkFile } from '../integrity/verify.js';
import { eachLimited } from '../progress/each-limited.js';
import { readLock, describeOwner } from './lock.js';
import { isNodeArchivePath } from './node-archives.js';
import { treeObstacles } from './tree-guard.js';
import { entryTarget, listGenerations } from './write-generation.js';
import { readCurrent, readHistoryFile, stateFile, treeDirName, type TreePaths, type TreeState } from './tree.js';

/** A fetched root's URL in a boot config (`root=live:<url>`), for each format that has one. */
const rootUrlPatterns = rootUrlParameters.map((parameter) => new RegExp(`${parameter.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\S+)`, 'g'));

export interface VerifyReport {
  ok: boolean;
  generation: number | undefined;
  /** Things that would make a node fail to boot or boot the wrong thing. */
  problems: string[];
  /** Harmless leftovers worth knowing about (an interrupted promotion, a stale lock). */
  notes: string[];
  counts: { configs: number; links: number; entries: number; artifacts: number; bytesHashed: number };
}

/**
 * `pxeforge verify`: `current` resolves to a complete generation; every config in it parses
 * (by the boot loader that owns it; GRUB configs with grub-script-check); every link
 * resolves inside the generation; every artifact a config names exists with the sha256 it
 * was promoted with (node archives included); every entry point leads into `current`. Read-only: it takes no lock and changes nothing.
 */
export async function verifyTree(paths: TreePaths, options: { httpBaseUrl?: string } = {}): Promise<VerifyReport> {
  const report: VerifyReport = {
    ok: true,
    generation: undefined,
    problems: [],
    notes: [],
    counts: { configs: 0, links: 0, entries: 0, artifacts: 0, bytesHashed: 0 },
  };
  const problem = (message: string) => report.problems.push(message);

  for (const obstacle of await treeObstacles(paths)) problem(obstacle);
  const lock = await readLock(paths.lock).catch(() => undefined);
  if (lock?.state === 'dead') report.notes.push(`stale lock of ${describeOwner(lock)} (interrupted); \`pxeforge unlock\` removes it`);
  else if (lock !== undefined) report.notes.push(`locked by ${describeOwner(lock)}: a change is in progress`);

  let current: Awaited<ReturnType<typeof readCurrent>>;
  try {
    current = await readCurrent(paths);
  } catch (error) {
    problem(`${paths.current} does not resolve to a generation: ${(error as Error).message}`);
    return finish(report);
  }
  if (current === undefined) {
    report.notes.push('nothing has been promoted to this tree yet');
    return finish(report);
  }
  report.generation = current.generation;
  const { dir, state } = current;
  if (state.generation !== current.generation)
    problem(`${path.join(dir, stateFile)} says generation ${state.generation}, but it is generation ${current.generation}`);

  const referenced = new Map<string, string>(); // tree-relative artifact path → the config naming it
  const configsOf = new Map<BootLoader, string[]>();
  const httpBase = options.httpBaseUrl?.replace(/\/+$/, '');
  const toTreePath = (reference: string): string | undefined => {
    if (httpBase !== undefined && reference.startsWith(`${httpBase}/`)) return reference.slice(httpBase.length + 1);
    if (reference.startsWith('/')) return reference.slice(1);
    return undefined;
  };
  const refer = (reference: string, config: string) => {
    const treePath = toTreePath(reference);
    if (treePath === undefined) problem(`${config}: names ${reference}, which is not a path in the tree`);
    else if (
      !treePath.startsWith(`${treeDirName}/images/`) &&
      !treePath.startsWith(`${treeDirName}/generations/${current.generation}/`) &&
      !isNodeArchivePath(treePath)
    ) {
      problem(`${config}: names ${reference}, outside this generation, the versioned images and the node archives`);
    } else referenced.set(treePath, config);
  };

  const check: ConfigCheck = {
    refer,
    problem,
    note: (message) => report.notes.push(message),
    generation: current.generation,
    generationPath: `/${treeDirName}/generations/${current.generation}`,
  };
  for (const relative of await walk(dir)) {
    const file = path.join(dir, relative);
    const info = await lstat(file);
    if (info.isSymbolicLink()) {
      report.counts.links += 1;
      const target = await readlink(file);
      const resolved = path.resolve(path.dirname(file), target);
      if (!resolved.startsWith(`${dir}/`)) problem(`${relative}: links outside its generation (${target})`);
      else if (
        !(await stat(resolved).then(
          (s) => s.isFile(),
          () => false,
        ))
      )
        problem(`${relative}: links to ${target}, which does not exist`);
      continue;
    }
    if (relative === stateFile) continue;
    report.counts.configs += 1;
    const text = await readFile(file, 'utf8');
    for (const pattern of rootUrlPatterns) for (const match of text.matchAll(pattern)) refer(match[1]!, relative);
    const loader = bootLoaderOfConfig(relative);
    if (loader === undefined) {
      problem(`${relative}: not a file pxeforge renders`);
      continue;
    }
    const configs = configsOf.get(loader) ?? [];
    configsOf.set(loader, configs);
    configs.push(relative);
    loader.checkConfig(relative, text, check);
  }
  for (const [loader, configs] of configsOf) await loader.checkConfigs?.(dir, configs, check);

  // Artifacts: each exists with the digest it was promoted with.
  for (const [treePath, config] of [...referenced].sort()) {
    if (treePath.startsWith(`${treeDirName}/generations/`)) {
      if (
        !(await stat(path.join(paths.root, treePath)).then(
          () => true,
          () => false,
        ))
      )
        problem(`${config}: names ${treePath}, which does not exist`);
      continue;
    }
    report.counts.artifacts += 1;
    const expected = state.files[treePath];
    const file = path.join(paths.root, treePath);
    const found = await checkFile(file, expected?.sha256 ?? '');
    if (found === 'missing') problem(`${treePath} (named by ${config}) is missing`);
    else if (expected === undefined) problem(`${treePath} (named by ${config}) has no recorded digest in ${stateFile}`);
    else if (found === 'different') problem(`${treePath} does not match the sha256 it was promoted with`);
    else report.counts.bytesHashed += expected.size;
  }
  for (const treePath of Object.keys(state.files)) {
    if (!referenced.has(treePath)) problem(`${stateFile} records ${treePath}, but no config names it`);
  }

  // Entry points lead into `current`.
  await checkEntries(paths, state, problem, report);

  // History and leftovers.
  const { entries: history, damaged } = await readHistoryFile(paths).catch((error: Error) => {
    problem(`${paths.history}: ${error.message}`);
    return { entries: [], damaged: [] };
  });
  for (const { line, problem: what } of damaged) problem(`${paths.history}:${line}: ${what}`);
  if (!history.some((entry) => entry.generation === current.generation)) {
    report.notes.push(
      `history.jsonl has no line for generation ${current.generation} yet (a promotion was interrupted after the switch); the next change appends it`,
    );
  }
  const readable = await worldReadablePrivateFiles(paths, current.dir);
  if (readable.length > 0)
    report.notes.push(
      `readable by anyone the PXE servers serve (nodes never need them): ${readable.join(', ')}; \`chmod o-r\` them (pxeforge writes them so from now on)`,
    );
  const newer = (await listGenerations(paths)).filter((n) => n > current.generation);
  if (newer.length > 0)
    report.notes.push(`generation(s) ${newer.join(', ')} were written but never switched to (interrupted); \`pxeforge gc\` removes them`);
  return finish(report);
}

/** Private files of the tree (see privateFileMode) that a tree written by an older pxeforge left world-readable. */
async function worldReadablePrivateFiles(paths: TreePaths, generationDir: string): Promise<string[]> {
  const candidates = [paths.history, path.join(generationDir, stateFile)];
  for (const image of await readdir(paths.images).catch(() => [] as string[])) {
    for (const version of await readdir(path.join(paths.images, image)).catch(() => [] as string[]))
      candidates.push(path.join(paths.images, image, version, 'manifest.json'));
  }
  const found: string[] = [];
  for (const file of candidates) {
    const info = await lstat(file).catch(() => undefined);
    if (info !== undefined && (info.mode & 0o004) !== 0) found.push(path.relative(paths.root, file));
  }
  return found;
}

function finish(report: VerifyReport): VerifyReport {
  report.ok = report.problems.length === 0;
  return report;
}

async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await walk(dir, relative)));
    else out.push(relative);
  }
  return out.sort();
}

async function checkEntries(paths: TreePaths, state: TreeState, problem: (message: string) => void, report: VerifyReport) {
  await eachLimited(Object.entries(state.entries), 32, async ([entry, generationPath]) => {
    report.counts.entries += 1;
    const file = path.join(paths.root, entry);
    const target = await readlink(file).catch(() => undefined);
    if (target === undefined) problem(`entry point ${entry} is missing (or not a link)`);
    else if (target !== entryTarget(entry, generationPath)) problem(`entry point ${entry} links to ${target}, not through current`);
    else if (
      !(await stat(file).then(
        (s) => s.isFile(),
        () => false,
      ))
    )
      problem(`entry point ${entry} does not resolve to a file`);
  });
}
