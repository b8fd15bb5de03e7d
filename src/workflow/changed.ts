import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { parse } from 'yaml';

import { ValidationError } from '../errors/problems.js';
import { invalidInput } from '../errors/user-error.js';
import { run } from '../exec/run.js';
import { ToolError } from '../exec/tool-error.js';
import { loadRecipes } from '../recipe/load.js';
import type { Recipe } from '../recipe/recipe.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { producingSettings } from '../site/build-settings.js';
import { siteConfigName } from '../site/site-config.js';

export interface AffectedRecipe {
  name: string;
  /** Repository-relative recipe file. */
  file: string;
  /** The changed files (or settings) that affect it: `overlays/compute/etc/chrony.conf`. */
  reasons: string[];
}

export interface Changes {
  since: string;
  /** The commit `since` resolved to. */
  commit: string;
  /** Every file changed between that commit and the working tree (untracked files included). */
  files: string[];
  affected: AffectedRecipe[];
  /** Changed files no recipe depends on, and pxeforge.yaml changes that need no build. */
  unrelated: string[];
}

async function git(repo: RecipeRepo, args: string[]): Promise<string> {
  return (await run(['git', '-C', repo.root, ...args], { capture: true })).stdout;
}

/**
 * `pxeforge changed --since <ref>`: the recipes a change affects, through everything each
 * depends on (its recipe file and `extends` parents, package sets, overlays and their
 * metadata, hooks) and the build settings of pxeforge.yaml, each with the files that say why.
 */
export async function changedRecipes(repo: RecipeRepo, since: string): Promise<Changes> {
  let commit: string;
  try {
    commit = (await git(repo, ['rev-parse', '--verify', '--quiet', `${since}^{commit}`])).trim();
  } catch (error) {
    if (!(error instanceof ToolError)) throw error;
    const inside = await git(repo, ['rev-parse', '--is-inside-work-tree']).then(
      () => true,
      () => false,
    );
    throw invalidInput(
      'BAD_REF',
      inside ? `\`${since}\` is not a commit of the recipe repository` : `${repo.root} is not in a git checkout`,
      inside
        ? 'pass a commit, branch or tag, e.g. --since HEAD~1 or --since origin/main'
        : 'pxeforge changed compares git commits; commit the recipes to git first',
    );
  }
  // Paths relative to the recipe repository (which may be a directory of a larger checkout).
  const tracked = (await git(repo, ['diff', '--name-only', '--no-renames', '--relative', commit, '--'])).split('\n');
  const untracked = (await git(repo, ['ls-files', '--others', '--exclude-standard'])).split('\n');
  const files = [...new Set([...tracked, ...untracked].filter((file) => file !== ''))].sort();

  const { recipes, problems } = await loadRecipes(repo);
  if (problems.length > 0) throw new ValidationError(problems);

  const siteReasons = files.includes(siteConfigName) ? await changedBuildSettings(repo, commit) : [];
  const affected: AffectedRecipe[] = [];
  const used = new Set<string>();
  for (const recipe of [...recipes].sort((a, b) => a.name.localeCompare(b.name))) {
    const reasons = files.filter((file) => dependsOn(recipe, file));
    for (const file of reasons) used.add(file);
    reasons.push(...siteReasons);
    if (reasons.length > 0) affected.push({ name: recipe.name, file: recipe.chain[0] ?? '', reasons });
  }
  if (siteReasons.length > 0) used.add(siteConfigName);
  return { since, commit, files, affected, unrelated: files.filter((file) => !used.has(file)) };
}

function dependsOn(recipe: Recipe, file: string): boolean {
  return recipe.sources.some((source) => file === source || file.startsWith(`${source}/`));
}

/** `pxeforge.yaml (mirror)` when a setting that changes builds differs from the one at `commit`. */
async function changedBuildSettings(repo: RecipeRepo, commit: string): Promise<string[]> {
  const before = await git(repo, ['show', `${commit}:./${siteConfigName}`]).then(
    (text) => settingsOf(text),
    (): Record<string, unknown> => ({}),
  );
  const now = settingsOf(await readFile(path.join(repo.root, siteConfigName), 'utf8').catch(() => ''));
  // The settings the build plan hashes, from either file as it is (the old one may not pass today's checks).
  const was: Record<string, unknown> = producingSettings(before as { mirror?: string });
  const is: Record<string, unknown> = producingSettings(now as { mirror?: string });
  return Object.keys(is)
    .filter((key) => JSON.stringify(was[key]) !== JSON.stringify(is[key]))
    .map((key) => `${siteConfigName} (${key})`);
}

function settingsOf(text: string): Record<string, unknown> {
  try {
    const value: unknown = parse(text);
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
