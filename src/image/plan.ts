import type { Recipe } from '../recipe/recipe.js';
import { digestJson } from '../integrity/digest.js';

/** Bump when a change to the build steps changes what identical inputs produce. */
export const buildFormat = 1;

/**
 * Everything a build will do, decided before it touches anything: the package sources (as
 * the distro backend resolved them), the timestamp every file gets, and the cache keys. Each
 * key covers exactly what its step depends on: bootstrap ← distro, release, arch, variant,
 * sources; packages ← bootstrap +
 * the install list; inputs ← everything (recipe, the content of every source file, the site's build settings, ...).
 */
export interface BuildPlan {
  recipe: Recipe;
  /** What DistroBackend.packageSources gave; the backend's bootstrap reads it. */
  packageSources: unknown;
  sourceDateEpoch: number;
  keys: { bootstrap: string; packages: string; inputs: string };
}

export function makeBuildPlan(
  recipe: Recipe,
  inputs: {
    packageSources: unknown;
    sourceDateEpoch: number;
    sourceDigests: Record<string, string>;
    /** The site's build settings that change what a build produces (`producingSettings`). */
    buildSettings: Record<string, unknown>;
  },
): BuildPlan {
  const { distro, release, arch, variant } = recipe.base;
  const bootstrap = digestJson({ step: 'bootstrap', buildFormat, distro, release, arch, variant, sources: inputs.packageSources });
  const packages = digestJson({ step: 'packages', bootstrap, install: recipe.packages.install });
  const { chain: _chain, sources: _sources, ...settings } = recipe;
  const all = digestJson({
    step: 'inputs',
    packages,
    settings,
    buildSettings: inputs.buildSettings,
    sourceDigests: inputs.sourceDigests,
    sourceDateEpoch: inputs.sourceDateEpoch,
  });
  return {
    recipe,
    packageSources: inputs.packageSources,
    sourceDateEpoch: inputs.sourceDateEpoch,
    keys: { bootstrap, packages, inputs: all },
  };
}
