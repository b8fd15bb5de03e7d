import { defaultArch, type ArchName } from '../arches/registry.js';
import type { Manifest } from './manifest.js';

/**
 * The architecture an image version was built for: its recipe's `base.arch` (the recipe
 * default when the manifest records none).
 */
export function manifestArch(manifest: Pick<Manifest, 'recipe'>): ArchName {
  return (manifest.recipe as Partial<Manifest['recipe']> | undefined)?.base?.arch ?? defaultArch;
}
