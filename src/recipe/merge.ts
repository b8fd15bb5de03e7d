import type { RecipeFile } from './schema.js';

/**
 * Merges a parent recipe file into a child (`extends`). Mappings merge key by key (the child
 * wins), lists of names concatenate parent first without duplicates, users, groups and checks
 * merge by name (the child's entry replaces the parent's in place). Packages and services
 * are not merged here: normalize.ts computes them level by level from the root, so a child
 * can exclude (or disable) what a parent included (or enabled), and the other way round.
 */
export function mergeRecipeFiles(parent: RecipeFile, child: RecipeFile): RecipeFile {
  return {
    ...parent,
    ...child,
    extends: child.extends,
    base: mergeObject(parent.base, child.base),
    packages: undefined,
    overlays: concatUnique(parent.overlays, child.overlays),
    services: undefined,
    users: mergeByName(parent.users, child.users),
    groups: mergeByName(parent.groups, child.groups),
    kernel: mergeKernel(parent.kernel, child.kernel),
    output: {
      ...parent.output,
      ...child.output,
      compression: mergeObject(parent.output?.compression, child.output?.compression),
    },
    hooks: concatUnique(parent.hooks, child.hooks),
    hygiene: { allowPrivateKeys: concatUnique(parent.hygiene?.allowPrivateKeys, child.hygiene?.allowPrivateKeys) },
    tests: {
      boot: mergeObject(parent.tests?.boot, child.tests?.boot),
      checks: mergeByName(parent.tests?.checks, child.tests?.checks),
    },
  };
}

/** Key by key, the child winning; absent only when both are. */
/** The child's package and cmdline win; the netboot drivers of both add up. */
function mergeKernel(parent: RecipeFile['kernel'], child: RecipeFile['kernel']): RecipeFile['kernel'] {
  const merged = mergeObject(parent, child);
  if (parent?.netbootDrivers === undefined && child?.netbootDrivers === undefined) return merged;
  return { ...merged, netbootDrivers: concatUnique(parent?.netbootDrivers, child?.netbootDrivers) };
}

function mergeObject<T extends object>(parent: T | undefined, child: T | undefined): T | undefined {
  return parent === undefined && child === undefined ? undefined : ({ ...parent, ...child } as T);
}

export function concatUnique(...lists: (readonly string[] | undefined)[]): string[] {
  return [...new Set(lists.flatMap((list) => list ?? []))];
}

function mergeByName<T extends { name: string }>(parent: T[] | undefined, child: T[] | undefined): T[] {
  const merged = new Map<string, T>();
  for (const item of [...(parent ?? []), ...(child ?? [])]) merged.set(item.name, item);
  return [...merged.values()];
}
