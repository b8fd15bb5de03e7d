import { ValidationError } from '../errors/problems.js';
import { openCatalog } from '../recipe/catalog.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { loadSite, type SiteConfig, type SitePart, type SiteParts } from '../site/site-config.js';
import { siteParts } from '../site/schema.js';

/**
 * The parts `parts` of the site config, or a ValidationError with every problem in them.
 * `checkImages`: node groups must name recipes of the repository (for commands that render or
 * boot node groups); it reads every recipe's name, so only those commands ask for it.
 */
export async function requireSite<P extends SitePart>(
  repo: RecipeRepo,
  parts: readonly P[],
  options: { checkImages?: boolean } = {},
): Promise<SiteParts<P>> {
  const recipeNames =
    options.checkImages === true && (parts as readonly SitePart[]).includes('tree')
      ? [...(await openCatalog(repo)).byName.keys()]
      : undefined;
  const { site, problems } = await loadSite(repo, parts, recipeNames);
  if (site === undefined || problems.length > 0) throw new ValidationError(problems);
  return site;
}

/** All of the site config, node groups checked against the recipes. */
export async function requireSiteConfig(repo: RecipeRepo): Promise<SiteConfig> {
  return requireSite(repo, siteParts, { checkImages: true });
}
