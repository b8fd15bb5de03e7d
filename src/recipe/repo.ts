import { readdir, realpath } from 'node:fs/promises';
import path from 'node:path';

/**
 * The recipe repository: the directory holding `pxeforge.yaml`, with `recipes/`,
 * `recipes/package-sets/`, `overlays/` and the hook scripts. Every path a recipe names is
 * resolved inside it and must stay inside it.
 */
export interface RecipeRepo {
  root: string;
  recipesDir: string;
  packageSetsDir: string;
  overlaysDir: string;
}

export function recipeRepo(root: string): RecipeRepo {
  const absolute = path.resolve(root);
  return {
    root: absolute,
    recipesDir: path.join(absolute, 'recipes'),
    packageSetsDir: path.join(absolute, 'recipes', 'package-sets'),
    overlaysDir: path.join(absolute, 'overlays'),
  };
}

/** A path as shown in messages: relative to the repository when inside it. */
export function displayPath(repo: RecipeRepo, absolute: string): string {
  const relative = path.relative(repo.root, absolute);
  return relative.startsWith('..') || path.isAbsolute(relative) ? absolute : relative;
}

/**
 * Whether `target` stays inside the repository, both lexically and after resolving symlinks
 * (a symlinked overlay or hook pointing at /etc is outside). Returns the reason when not.
 */
export async function insideRepo(repo: RecipeRepo, target: string): Promise<'inside' | 'outside' | 'missing'> {
  if (!isWithin(repo.root, path.resolve(target))) return 'outside';
  const [rootReal, targetReal] = await Promise.all([realpath(repo.root), realpath(target).catch(() => undefined)]);
  if (targetReal === undefined) return 'missing';
  return isWithin(rootReal, targetReal) ? 'inside' : 'outside';
}

export function isWithin(parent: string, child: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Recipe files directly under recipes/ (package sets and the JSON schema live elsewhere).
 * Symlinks are listed too, so that one leading out of the repository is reported (see
 * repo-file.ts), not skipped.
 */
export async function listRecipeFiles(repo: RecipeRepo): Promise<string[]> {
  const entries = await readdir(repo.recipesDir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && /\.ya?ml$/.test(entry.name))
    .map((entry) => path.join(repo.recipesDir, entry.name))
    .sort();
}

/** Names of YAML files (symlinks included, checked when read) or of real directories in `dir`. */
export async function listNames(dir: string, kind: 'file' | 'directory'): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => (kind === 'file' ? (entry.isFile() || entry.isSymbolicLink()) && /\.ya?ml$/.test(entry.name) : entry.isDirectory()))
    .map((entry) => (kind === 'file' ? entry.name.replace(/\.ya?ml$/, '') : entry.name))
    .sort();
}
