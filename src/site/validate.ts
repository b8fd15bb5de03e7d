import path from 'node:path';

import type { Problem } from '../errors/problems.js';
import { quoted } from '../errors/quote-text.js';
import { cmdlineSizeHint, cmdlineSizeProblem } from '../recipe/cmdline-size.js';
import { loadRecipes } from '../recipe/load.js';
import { loadRepoYaml } from '../recipe/repo-file.js';
import type { YamlDocument } from '../source/yaml-document.js';
import type { Recipe } from '../recipe/recipe.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { loadSiteConfig, siteConfigName, type NodeGroup, type SiteConfig } from './site-config.js';

export interface RepoValidation {
  recipes: Recipe[];
  site: SiteConfig | undefined;
  /** Recipe files checked (as shown in messages). */
  files: string[];
  problems: Problem[];
}

/** Checks the given recipes (or all of them) and the site config, collecting every problem. */
export async function validateRepo(repo: RecipeRepo, files: readonly string[] = []): Promise<RepoValidation> {
  const loaded = await loadRecipes(repo, files);
  const { site, problems } = await loadSiteConfig(repo, loaded.names);
  // Read again for positions only, when there is something to check (the file parsed above).
  const document =
    site === undefined || site.nodeGroups.length === 0
      ? undefined
      : await loadRepoYaml(repo, path.join(repo.root, siteConfigName)).then((result) => (result.ok ? result.document : undefined));
  for (const group of site?.nodeGroups ?? []) {
    const recipe = loaded.recipes.find((item) => item.name === group.image);
    const mismatch = recipe === undefined ? undefined : archMismatch(group, recipe, document);
    if (mismatch !== undefined) problems.push(mismatch);
    const tooLong = recipe === undefined ? undefined : cmdlineSizeProblem(recipe, group.kernelArgs);
    if (tooLong !== undefined) {
      problems.push({
        file: siteConfigName,
        path: `nodeGroups.${group.name}.kernelArgs`,
        message: `with image ${quoted(group.image)}, ${tooLong}`,
        hint: cmdlineSizeHint,
      });
    }
  }
  return { recipes: loaded.recipes, site, files: loaded.files, problems: [...loaded.problems, ...problems] };
}

/** A node group's image must be built for the group's architecture (ARCH_MISMATCH). */
function archMismatch(
  group: Pick<NodeGroup, 'name' | 'image' | 'arch'>,
  recipe: Pick<Recipe, 'base'>,
  document: YamlDocument | undefined,
): Problem | undefined {
  if (recipe.base.arch === group.arch) return undefined;
  return {
    file: siteConfigName,
    // At the group's `arch:`, or at the group when it takes the default architecture.
    ...document?.locate(['nodeGroups', group.name, 'arch']),
    path: `nodeGroups.${group.name}.arch`,
    code: 'ARCH_MISMATCH',
    message: `node group ${quoted(group.name)} is ${group.arch}, and its image ${quoted(group.image)} is built for ${recipe.base.arch}`,
    hint: `set \`arch: ${recipe.base.arch}\` on the node group if its nodes are ${recipe.base.arch}, or give it an image whose recipe has \`base.arch: ${group.arch}\``,
  };
}
