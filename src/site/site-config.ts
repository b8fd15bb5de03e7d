import { access } from 'node:fs/promises';
import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { invalidInput } from '../errors/user-error.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { loadRepoYaml } from '../recipe/repo-file.js';
import { checkSchema } from '../source/zod-problems.js';
import { resolveBuildSettings, type BuildSettings } from './build-settings.js';
import { resolveExecutors, type SiteExecutors } from './executors.js';
import { siteParts, sitePartsSchema, type SitePart } from './schema.js';
import { resolveSiteTree, type SiteTree } from './site-tree.js';

export type { BuildSettings } from './build-settings.js';
export type { SiteExecutors } from './executors.js';
export type { SitePart } from './schema.js';
export type { FleetSettings, NodeGroup, RolloutSettings, SiteTree } from './site-tree.js';
export type { GroupNodeConfig, NodeSecretSetting, SettingLocation, SiteNode, SiteNodeConfig, VarValue } from './node-config.js';

export const siteConfigName = 'pxeforge.yaml';

interface PartTypes {
  build: BuildSettings;
  tree: SiteTree;
  executors: SiteExecutors;
}

/** The site config with the parts `P`: `SiteParts<'build' | 'tree'>` has the build settings and the tree. */
export type SiteParts<P extends SitePart> = (P extends unknown ? (part: PartTypes[P]) => void : never) extends (part: infer I) => void
  ? I
  : never;

/** All of pxeforge.yaml. */
export type SiteConfig = SiteParts<SitePart>;

/** The repository root: the nearest directory at or above `start` that holds pxeforge.yaml. */
export async function findRepoRoot(start: string): Promise<string> {
  let dir = path.resolve(start);
  for (;;) {
    if (
      await access(path.join(dir, siteConfigName)).then(
        () => true,
        () => false,
      )
    )
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw invalidInput(
        'NO_SITE_CONFIG',
        `no ${siteConfigName} in ${path.resolve(start)} or any parent directory`,
        `run pxeforge inside a recipe repository, or pass --repo <dir>`,
      );
    }
    dir = parent;
  }
}

/**
 * Loads pxeforge.yaml and checks the parts `parts` of it only (every problem of those, located).
 * With the tree, `recipeNames` are the images node groups may name; without them names are not
 * checked (for commands that read the tree but boot nothing).
 */
export async function loadSite<P extends SitePart>(
  repo: RecipeRepo,
  parts: readonly P[],
  recipeNames?: readonly string[],
): Promise<{ site?: SiteParts<P>; problems: Problem[] }> {
  const file = path.join(repo.root, siteConfigName);
  const loaded = await loadRepoYaml(repo, file);
  if (!loaded.ok) return { problems: loaded.problems };
  const data = loaded.document.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    return {
      problems: [{ file: siteConfigName, line: 1, column: 1, path: '', message: 'expected a mapping of settings at the top of the file' }],
    };
  }
  const document = { ...loaded.document, data };
  const checked = checkSchema(sitePartsSchema(parts), document);
  if (!checked.ok) return { problems: checked.problems };
  const config = checked.value;
  const wants = (part: SitePart) => (parts as readonly SitePart[]).includes(part);
  let site: Partial<SiteConfig> = {};
  if (wants('build')) site = { ...site, ...resolveBuildSettings(repo.root, file, config) };
  if (wants('tree')) {
    const { tree, problems } = resolveSiteTree(repo.root, file, config, document, recipeNames);
    if (tree === undefined) return { problems };
    site = { ...site, ...tree };
  }
  if (wants('executors')) site = { ...site, ...resolveExecutors(file, config) };
  return { site: site as SiteParts<P>, problems: [] };
}

/** The build settings alone: what a build reads (a node group naming an image not here is no concern of it). */
export const loadBuildSettings = (repo: RecipeRepo) => loadSite(repo, ['build']);

/** The tree alone; node groups' images are checked against `recipeNames` when given. */
export const loadSiteTree = (repo: RecipeRepo, recipeNames?: readonly string[]) => loadSite(repo, ['tree'], recipeNames);

/** The executors' settings alone. */
export const loadExecutors = (repo: RecipeRepo) => loadSite(repo, ['executors']);

/** All of pxeforge.yaml; `recipeNames` are the images node groups may name. */
export const loadSiteConfig = (repo: RecipeRepo, recipeNames: readonly string[]) => loadSite(repo, siteParts, recipeNames);

export { normalizeMac } from './site-tree.js';
