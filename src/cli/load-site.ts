import { ValidationError } from '../errors/problems.js';
import { openCatalog } from '../recipe/catalog.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { loadSiteConfig, type SiteConfig } from '../site/site-config.js';

/** The site config, or a ValidationError with every problem in it. */
export async function requireSiteConfig(repo: RecipeRepo): Promise<SiteConfig> {
  const catalog = await openCatalog(repo);
  const { site, problems } = await loadSiteConfig(repo, [...catalog.byName.keys()]);
  if (site === undefined || problems.length > 0) throw new ValidationError(problems);
  return site;
}
