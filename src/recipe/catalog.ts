import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { checkSchema } from '../source/zod-problems.js';
import type { YamlDocument } from '../source/yaml-document.js';
import { displayPath, listRecipeFiles, type RecipeRepo } from './repo.js';
import { loadRepoYaml } from './repo-file.js';
import { packageSetSchema, recipeFileSchema, type RecipeFile } from './schema.js';

export interface ParsedFile<T> {
  /** Repository-relative name used in messages. */
  file: string;
  document: YamlDocument | undefined;
  value: T | undefined;
  problems: Problem[];
}

/**
 * Reads and schema-checks each recipe and package-set file once, and knows which recipe
 * file carries which name (names are free; `extends` refers to a name).
 */
export interface Catalog {
  repo: RecipeRepo;
  /** Recipe files under recipes/ by recipe name. */
  byName: Map<string, string[]>;
  recipe(absolute: string): Promise<ParsedFile<RecipeFile>>;
  packageSet(name: string): Promise<ParsedFile<{ packages: string[] }>>;
}

export async function openCatalog(repo: RecipeRepo): Promise<Catalog> {
  const recipes = new Map<string, Promise<ParsedFile<RecipeFile>>>();
  const sets = new Map<string, Promise<ParsedFile<{ packages: string[] }>>>();
  const recipe = (absolute: string) => memo(recipes, absolute, () => parseFile(repo, absolute, recipeFileSchema));
  const packageSet = (name: string) =>
    memo(sets, name, () => parseFile(repo, path.join(repo.packageSetsDir, `${name}.yaml`), packageSetSchema));

  const byName = new Map<string, string[]>();
  for (const absolute of await listRecipeFiles(repo)) {
    const parsed = await recipe(absolute);
    const name = (parsed.document?.data as { name?: unknown } | undefined)?.name;
    if (typeof name === 'string') byName.set(name, [...(byName.get(name) ?? []), absolute]);
  }
  return { repo, byName, recipe, packageSet };
}

async function parseFile<S extends typeof recipeFileSchema | typeof packageSetSchema>(
  repo: RecipeRepo,
  absolute: string,
  schema: S,
): Promise<ParsedFile<ReturnType<S['parse']>>> {
  const file = displayPath(repo, absolute);
  const loaded = await loadRepoYaml(repo, absolute);
  if (!loaded.ok) return { file, document: undefined, value: undefined, problems: loaded.problems };
  if (loaded.document.data === null || typeof loaded.document.data !== 'object' || Array.isArray(loaded.document.data)) {
    const problem: Problem = {
      file,
      line: 1,
      column: 1,
      path: '',
      message: 'expected a mapping of fields (`name: ...`) at the top of the file',
    };
    return { file, document: loaded.document, value: undefined, problems: [problem] };
  }
  const checked = checkSchema(schema, loaded.document);
  return checked.ok
    ? { file, document: loaded.document, value: checked.value as ReturnType<S['parse']>, problems: [] }
    : { file, document: loaded.document, value: undefined, problems: checked.problems };
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = cache.get(key);
  if (value === undefined) {
    value = make();
    cache.set(key, value);
  }
  return value;
}
