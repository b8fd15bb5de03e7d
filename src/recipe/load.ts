import { stat } from 'node:fs/promises';
import path from 'node:path';

import { formatPath } from '../errors/format-path.js';
import { formatProblem, ValidationError, type Problem } from '../errors/problems.js';
import { quoted } from '../errors/quote-text.js';
import { openCatalog, type Catalog, type ParsedFile } from './catalog.js';
import { checkRecipeFile } from './file-rules.js';
import { normalizeRecipe, type ChainLevel } from './normalize.js';
import type { Recipe } from './recipe.js';
import { displayPath, listRecipeFiles, type RecipeRepo } from './repo.js';
import type { RecipeFile } from './schema.js';

export interface LoadedRecipes {
  /** The valid recipes among those asked for. */
  recipes: Recipe[];
  /** Every problem found in them, their parents and package sets (deduplicated). */
  problems: Problem[];
  /** The recipe files that were checked, as shown in messages. */
  files: string[];
  /** Every recipe name under recipes/ (what node groups may name). */
  names: string[];
}

/**
 * Loads and checks recipes: YAML → schema → per-file rules → `extends` chain → normalize.
 * `files` are paths (absolute or relative to the current directory); none means every
 * recipe under recipes/. Never throws for bad input: every problem is collected.
 */
export async function loadRecipes(repo: RecipeRepo, files: readonly string[] = []): Promise<LoadedRecipes> {
  const catalog = withCheckedFiles(await openCatalog(repo));
  const targets = files.length > 0 ? files.map((file) => path.resolve(file)) : await listRecipeFiles(repo);
  const recipes: Recipe[] = [];
  const problems: Problem[] = [];
  for (const absolute of targets) {
    const result = await loadOne(catalog, absolute);
    problems.push(...result.problems);
    if (result.recipe !== undefined) recipes.push(result.recipe);
  }
  return {
    recipes,
    problems: dedupe(problems),
    files: targets.map((absolute) => displayPath(repo, absolute)),
    names: [...catalog.byName.keys()],
  };
}

/** One recipe, or a ValidationError listing every problem. */
export async function loadRecipe(repo: RecipeRepo, file: string): Promise<Recipe> {
  const { recipes, problems } = await loadRecipes(repo, [file]);
  if (problems.length > 0 || recipes[0] === undefined) throw new ValidationError(problems);
  return recipes[0];
}

/**
 * Each file is parsed once (the catalog) and its per-file rules run once, however many
 * recipes extend it: validating n recipes costs O(n × maxExtendsDepth), not O(n²).
 */
type CheckedCatalog = Catalog & { check(parsed: ParsedFile<RecipeFile>): Promise<Problem[]> };

function withCheckedFiles(catalog: Catalog): CheckedCatalog {
  const checked = new Map<string, Promise<Problem[]>>();
  return {
    ...catalog,
    check(parsed) {
      let problems = checked.get(parsed.file);
      if (problems === undefined) {
        problems = checkRecipeFile(catalog, parsed);
        checked.set(parsed.file, problems);
      }
      return problems;
    },
  };
}

/** How many ancestors a recipe may have; a longer chain is refused, not followed. */
export const maxExtendsDepth = 16;

async function loadOne(catalog: CheckedCatalog, absolute: string): Promise<{ recipe?: Recipe; problems: Problem[] }> {
  const parsed = await catalog.recipe(absolute);
  const problems = [...parsed.problems, ...(await catalog.check(parsed)), ...duplicateName(catalog, parsed, absolute)];
  const chain = await resolveChain(catalog, parsed, problems);
  if (chain === undefined || problems.length > 0) return { problems };

  const packageSets = new Map<string, string[]>();
  for (const level of chain) {
    for (const name of level.value.packages?.sets ?? []) {
      packageSets.set(name, (await catalog.packageSet(name)).value?.packages ?? []);
    }
  }
  const metaFiles = await overlayMetaFiles(catalog, chain);
  const normalized = normalizeRecipe(chain, packageSets, (name) => (metaFiles.has(name) ? [`overlays/${name}.yaml`] : []));
  return { recipe: normalized.recipe, problems: normalized.problems };
}

/** Follows `extends` to the root; reports missing parents, invalid parents, cycles and too deep chains. */
async function resolveChain(catalog: CheckedCatalog, leaf: ParsedFile<RecipeFile>, problems: Problem[]): Promise<ChainLevel[] | undefined> {
  const chain: ChainLevel[] = [];
  const report = (message: string, hint: string) =>
    problems.push({ file: leaf.file, ...leaf.document?.locate(['extends']), path: 'extends', message, hint });
  let current: ParsedFile<RecipeFile> = leaf;
  for (;;) {
    if (current !== leaf) problems.push(...(current.value === undefined ? current.problems : []), ...(await catalog.check(current)));
    if (current.value === undefined) return undefined;
    chain.unshift({ parsed: current, value: current.value });
    const parentName = current.value.extends;
    if (parentName === undefined) return chain;
    const parentFile = catalog.byName.get(parentName)?.[0];
    if (parentFile === undefined) return undefined;
    const names = [...chain.map((level) => level.value.name).reverse(), parentName];
    const parent = await catalog.recipe(parentFile);
    if (chain.some((level) => level.parsed.file === parent.file)) {
      report(`\`extends\` forms a cycle: ${names.join(' → ')}`, 'a recipe cannot be its own ancestor; remove `extends` from one of them');
      return undefined;
    }
    if (chain.length > maxExtendsDepth) {
      report(
        `\`extends\` chain is deeper than ${maxExtendsDepth} levels: ${names.join(' → ')} → …`,
        'flatten the chain: merge intermediate recipes, or use package sets and overlays to share',
      );
      return undefined;
    }
    current = parent;
  }
}

function duplicateName(catalog: Catalog, parsed: ParsedFile<RecipeFile>, absolute: string): Problem[] {
  const name = parsed.value?.name;
  if (name === undefined) return [];
  const others = (catalog.byName.get(name) ?? []).filter((file) => file !== absolute);
  if (others.length === 0) return [];
  return [
    {
      file: parsed.file,
      ...parsed.document?.locate(['name']),
      path: formatPath(['name']),
      message: `recipe name ${quoted(name)} is also used by ${others.map((file) => displayPath(catalog.repo, file)).join(', ')}`,
      hint: 'recipe names must be unique: they name the image in the store and the PXE tree',
    },
  ];
}

async function overlayMetaFiles(catalog: Catalog, chain: ChainLevel[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const name of chain.flatMap((level) => level.value.overlays ?? [])) {
    const exists = await stat(path.join(catalog.repo.overlaysDir, `${name}.yaml`)).then(
      (info) => info.isFile(),
      () => false,
    );
    if (exists) found.add(name);
  }
  return found;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = formatProblem(problem);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
