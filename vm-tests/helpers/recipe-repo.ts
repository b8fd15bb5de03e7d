import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa, type ResultPromise } from 'execa';

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(projectRoot, 'bin/pxeforge.js');

/**
 * A recipe repository in a temporary git checkout: this project's recipes, package sets,
 * overlays, hooks and node files, with the store, cache and PXE tree inside the temp directory.
 */
export interface TempRepo {
  root: string;
  /** A TMPDIR of this repository's own (`pxeforge(args, { tmp: true })`): what a run leaves behind is seen here, not among the host's. */
  tmp: string;
  store: string;
  cache: string;
  pxeforge(args: string[], options?: { tmp?: boolean }): ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }>;
  git(args: string[]): Promise<string>;
  write(file: string, content: string): Promise<void>;
  read(file: string): Promise<string>;
  remove(): Promise<void>;
}

/**
 * The step cache of a VM test's builds: the one the VM tier shares (`PXEFORGE_VM_CACHE`, which
 * scripts/test makes for the run and removes after it), so that the files of the tier build
 * each package layer and netboot initrd once; or, with `ownCache` or without that variable,
 * one of the test's own, in its temp directory.
 */
export async function tempRecipeRepo(siteExtra = '', options: { ownCache?: boolean } = {}): Promise<TempRepo> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-vm-'));
  const root = path.join(dir, 'repo');
  const tmp = path.join(dir, 'tmp');
  await mkdir(tmp);
  for (const part of ['recipes', 'overlays', 'nodefiles'])
    await cp(path.join(projectRoot, part), path.join(root, part), { recursive: true, verbatimSymlinks: true });
  // As in this repository: var/ (the default secrets directory among others) stays out of git.
  await writeFile(path.join(root, '.gitignore'), 'var/\n');
  const store = path.join(dir, 'store');
  const shared = process.env.PXEFORGE_VM_CACHE;
  const cache = options.ownCache !== true && shared !== undefined && shared !== '' ? shared : path.join(dir, 'cache');
  await writeFile(
    path.join(root, 'pxeforge.yaml'),
    `store: ${store}\ncache: ${cache}\ntftpRoot: ${path.join(dir, 'tftp')}\nmirror: host\n${siteExtra}`,
  );
  const git = async (args: string[]) => (await execa('git', args, { cwd: root })).stdout;
  await git(['init', '-q', '-b', 'main']);
  await git(['-c', 'user.name=pxeforge tests', '-c', 'user.email=tests@pxeforge.invalid', 'add', '-A']);
  await git(['-c', 'user.name=pxeforge tests', '-c', 'user.email=tests@pxeforge.invalid', 'commit', '-qm', 'recipes']);
  return {
    root,
    tmp,
    store,
    cache,
    pxeforge: (args, options) =>
      execa(process.execPath, [bin, ...args], {
        cwd: root,
        reject: false,
        env: { CI: 'true', ...(options?.tmp === true ? { TMPDIR: tmp } : {}) },
      }),
    git: (args) => git(['-c', 'user.name=pxeforge tests', '-c', 'user.email=tests@pxeforge.invalid', ...args]),
    write: (file, content) => writeFile(path.join(root, file), content),
    read: (file) => readFile(path.join(root, file), 'utf8'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Lines of /proc/self/mountinfo whose mount point lies under `dir`. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir));
}

/** Resolves once the running command has printed `marker`; rejects if it ends first. */
export function waitForOutput(child: ResultPromise, marker: string): Promise<void> {
  let seen = '';
  return new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(marker)) resolve();
    });
    void child.then(() => reject(new Error(`the command ended before printing ${marker}:\n${seen}`)));
  });
}
