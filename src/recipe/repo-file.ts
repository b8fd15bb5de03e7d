import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { loadYamlDocument, type LoadResult } from '../source/yaml-document.js';
import { displayPath, insideRepo, isWithin, type RecipeRepo } from './repo.js';

/**
 * Reads a YAML file of the repository (recipe, parent, package set, overlay metadata, the
 * site config). The one inside-the-repo check for every file read because of the
 * repository: a path inside the repository whose real path leaves it (a symlink to
 * /etc/shadow) is refused by its name and never read, so its content cannot reach a
 * message or a CI log. A file named on the command line from outside the repository is
 * read as asked.
 */
export async function loadRepoYaml(repo: RecipeRepo, absolute: string): Promise<LoadResult> {
  const file = displayPath(repo, absolute);
  const problem = await repoEscapeProblem(repo, absolute, file);
  return problem === undefined ? loadYamlDocument(absolute, file) : { ok: false, problems: [problem] };
}

export async function repoEscapeProblem(repo: RecipeRepo, absolute: string, file: string): Promise<Problem | undefined> {
  if (!isWithin(repo.root, path.resolve(absolute))) return undefined;
  if ((await insideRepo(repo, absolute)) !== 'outside') return undefined;
  return {
    file,
    path: '',
    message: 'is a symlink that leads outside the repository; pxeforge reads no file from outside it',
    hint: 'keep the file itself in the repository (symlinks may point only inside it)',
  };
}
