import { getDistro } from '../distros/registry.js';
import { UserError, ExitCode } from '../errors/user-error.js';
import type { Recipe } from '../recipe/recipe.js';
import type { Manifest } from '../store/manifest.js';

/**
 * The recipe with its install list replaced by every package of an earlier version, pinned
 * to the exact version recorded in that version's manifest (`build --locked`), so a build can
 * be repeated and checked later. The mirror must still serve those versions.
 */
export function lockRecipe(recipe: Recipe, manifest: Manifest): Recipe {
  if (manifest.name !== recipe.name) {
    throw new UserError('LOCK_MISMATCH', `--locked names image \`${manifest.name}\`, but the recipe builds \`${recipe.name}\``, {
      exitCode: ExitCode.invalidInput,
    });
  }
  const install = getDistro(recipe.base.distro).pinnedInstall(manifest.packages, recipe.base.arch);
  return { ...recipe, packages: { ...recipe.packages, install } };
}
