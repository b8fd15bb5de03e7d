import { lstat, stat } from 'node:fs/promises';
import path from 'node:path';

import { distros } from '../distros/registry.js';
import type { Problem } from '../errors/problems.js';
import { formatPath } from '../errors/format-path.js';
import { quoted } from '../errors/quote-text.js';
import { didYouMean } from '../source/suggest.js';
import { checkSchema } from '../source/zod-problems.js';
import type { Catalog, ParsedFile } from './catalog.js';
import { checkPatternError } from './check-pattern.js';
import { insideRepo, listNames } from './repo.js';
import { loadRepoYaml } from './repo-file.js';
import { overlayMetaSchema, plannedDistros, type RecipeFile } from './schema.js';

/**
 * Rules about one recipe file that need the repository (files that must exist and stay
 * inside it) or look across fields. Rules about the merged recipe live in normalize.ts.
 */
export async function checkRecipeFile(catalog: Catalog, parsed: ParsedFile<RecipeFile>): Promise<Problem[]> {
  const recipe = parsed.value;
  const document = parsed.document;
  if (recipe === undefined || document === undefined) return [];
  const problems: Problem[] = [];
  const report = (fieldPath: PropertyKey[], message: string, hint?: string) =>
    problems.push({ file: parsed.file, ...document.locate(fieldPath), path: formatPath(fieldPath), message, hint });
  const { repo } = catalog;

  if (recipe.extends !== undefined && !catalog.byName.has(recipe.extends)) {
    report(['extends'], `no recipe named ${quoted(recipe.extends)} in recipes/`, didYouMean(recipe.extends, [...catalog.byName.keys()]));
    // A parent file that could not be read (invalid, or refused) says why.
    const parentFile = path.join(repo.recipesDir, `${recipe.extends}.yaml`);
    if ((await lstat(parentFile).catch(() => undefined)) !== undefined) problems.push(...(await catalog.recipe(parentFile)).problems);
  }

  const distro = recipe.base?.distro;
  if (distro !== undefined && (plannedDistros as readonly string[]).includes(distro)) {
    report(
      ['base', 'distro'],
      `distro \`${distro}\` is not supported yet`,
      `pxeforge builds ${Object.values(distros)
        .map((backend) => backend.title)
        .join(', ')} images today (docs/architecture.md says what another distro needs)`,
    );
  }
  const setNames = await listNames(repo.packageSetsDir, 'file');
  for (const [index, name] of (recipe.packages?.sets ?? []).entries()) {
    if (!setNames.includes(name)) {
      report(['packages', 'sets', index], `no package set ${quoted(name)} in recipes/package-sets/`, didYouMean(name, setNames));
    } else {
      problems.push(...(await catalog.packageSet(name)).problems);
    }
  }

  const overlayNames = await listNames(repo.overlaysDir, 'directory');
  for (const [index, name] of (recipe.overlays ?? []).entries()) {
    const where = await insideRepo(repo, path.join(repo.overlaysDir, name));
    if (where === 'missing' || (where === 'inside' && !overlayNames.includes(name))) {
      report(['overlays', index], `no overlay directory ${quoted(`overlays/${name}/`)}`, didYouMean(name, overlayNames));
    } else if (where === 'outside') {
      report(
        ['overlays', index],
        `overlay ${quoted(name)} resolves outside the repository`,
        'overlays must be real directories under overlays/',
      );
    } else {
      problems.push(...(await checkOverlayMeta(catalog, name)));
    }
  }

  for (const [index, hook] of (recipe.hooks ?? []).entries()) {
    const absolute = path.resolve(repo.root, hook);
    const where = await insideRepo(repo, absolute);
    if (where === 'outside') {
      report(
        ['hooks', index],
        `hook ${quoted(hook)} points outside the repository`,
        'hooks are scripts kept in the recipe repository, e.g. scripts/tune.sh',
      );
    } else if (where === 'missing' || !(await stat(absolute)).isFile()) {
      report(
        ['hooks', index],
        `hook script ${quoted(hook)} does not exist`,
        'paths are relative to the repository root (where pxeforge.yaml is)',
      );
    }
  }

  const services = recipe.services ?? {};
  for (const [list, other] of [
    ['disable', 'enable'],
    ['mask', 'enable'],
  ] as const) {
    for (const [index, unit] of (services[list] ?? []).entries()) {
      if (services[other]?.includes(unit))
        report(['services', list, index], `unit ${quoted(unit)} is both in services.${other} and services.${list}`);
    }
  }

  const seen = new Set<string>();
  for (const [index, check] of (recipe.tests?.checks ?? []).entries()) {
    if (seen.has(check.name))
      report(
        ['tests', 'checks', index, 'name'],
        `two checks are named ${quoted(check.name)}`,
        'check names must be unique (they name the results in the report)',
      );
    seen.add(check.name);
    if (check.expect !== undefined && check.match !== undefined) {
      report(['tests', 'checks', index], 'a check takes `expect` (exact output) or `match` (regular expression), not both');
    }
    const patternError = check.match === undefined ? undefined : checkPatternError(check.match);
    if (patternError !== undefined) {
      report(
        ['tests', 'checks', index, 'match'],
        `not a valid RE2 pattern (checks run on RE2, a linear-time engine): ${patternError}`,
        'RE2 has no backreferences (\\1) or lookaround ((?=...), (?<=...)); see https://github.com/google/re2/wiki/Syntax',
      );
    }
  }
  return problems;
}

async function checkOverlayMeta(catalog: Catalog, name: string): Promise<Problem[]> {
  const absolute = path.join(catalog.repo.overlaysDir, `${name}.yaml`);
  if ((await lstat(absolute).catch(() => undefined)) === undefined) return [];
  const loaded = await loadRepoYaml(catalog.repo, absolute);
  if (!loaded.ok) return loaded.problems;
  const checked = checkSchema(overlayMetaSchema, loaded.document);
  return checked.ok ? [] : checked.problems;
}
