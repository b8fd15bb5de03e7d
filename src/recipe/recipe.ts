import { type ArchName, defaultArch } from '../arches/registry.js';
import type { CompressionAlgorithm } from '../formats/format.js';
import type { FormatName } from '../formats/registry.js';
import type { RecipeCheck, RecipeGroup, RecipeUser } from './schema.js';

export type { CompressionAlgorithm } from '../formats/format.js';

/**
 * The base of the image root, one member per distro backend (src/distros/registry.ts),
 * told apart by `distro`. Each member gives what its backend reads (DistroBase).
 */
export type RecipeBase = { distro: 'debian'; release: string; arch: ArchName; variant: string; mirror: string | undefined };

/** A recipe with `extends` resolved, package sets expanded and defaults applied. */
export interface Recipe {
  name: string;
  description: string | undefined;
  /** The recipe file, then its parents (repository-relative paths). */
  chain: string[];
  base: RecipeBase;
  packages: {
    sets: string[];
    /** What gets installed: sets and includes of the whole chain, minus excludes, plus the kernel. */
    install: string[];
  };
  overlays: string[];
  services: { enable: string[]; disable: string[]; mask: string[] };
  users: RecipeUser[];
  groups: RecipeGroup[];
  locale: string | undefined;
  timezone: string | undefined;
  /** netbootDrivers: extra modules for the netboot initrd (squashfs), added to dracut's add_drivers. */
  kernel: { package: string; cmdline: string; netbootDrivers: string[] };
  output: {
    format: FormatName;
    compression: { algorithm: CompressionAlgorithm; level: number | undefined };
    acceptCapabilityLoss: boolean;
  };
  hooks: string[];
  hygiene: { allowPrivateKeys: string[] };
  tests: {
    boot: { memory: number; cpus: number; timeout: number; builtinChecks: boolean };
    checks: RecipeCheck[];
  };
  /**
   * Every repository file or directory this recipe depends on (recipe chain, package sets,
   * overlay directories and metadata, hooks): what `changed` watches and executors ship.
   */
  sources: string[];
}

export const defaults = {
  arch: defaultArch,
  compression: { zstd: 3, gzip: 6, xz: undefined, lz4: undefined },
  boot: { memory: 2048, cpus: 2, timeout: 300 },
} as const;

/** Compression levels each algorithm accepts (undefined: the algorithm takes no level). */
export const compressionLevels: Record<CompressionAlgorithm, { min: number; max: number } | undefined> = {
  zstd: { min: 1, max: 22 },
  gzip: { min: 1, max: 9 },
  xz: undefined,
  lz4: undefined,
};
