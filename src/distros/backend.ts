import type { HostTool } from '../exec/host-tool.js';
/**
 * What pxeforge needs from the distribution of an image root. One backend per distro
 * (src/distros/<name>), found by name in registry.ts; the build stages, the recipe schema and
 * doctor ask it instead of assuming a package manager. Backends see only the narrow types
 * below, never a Recipe or a SiteConfig.
 */

/** What a backend reads of a recipe's `base`. */
export interface DistroBase {
  release: string;
  arch: string;
  variant: string;
  mirror: string | undefined;
}

/** One package installed in an image, as its package database records it. */
export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
}

export type { HostTool } from '../exec/host-tool.js';

/** Names in one image directory: `/<dir>/<name>` for every name that matches. */
export interface ImageGlob {
  dir: string;
  match: RegExp;
}

/** One command of a build step, run on the host; `explain` may turn its failure into a clearer error. */
export interface ToolStep {
  argv: string[];
  env?: Record<string, string>;
  explain?: (error: unknown) => never;
}

/** Runs a command inside the image root (chrootArgv), for steps that need the image's own programs. */
export type RunInImage = (argv: string[]) => Promise<void>;

export interface DistroBackend<Sources = unknown> {
  /** The `base.distro` name in recipes. */
  name: string;
  /** The distro as people write it ("Debian"), for stage titles and messages. */
  title: string;
  /** Releases a recipe may name in `base.release`. */
  releases: readonly string[];
  /** Bootstrap variants a recipe may name in `base.variant`, and the default. */
  variants: { names: readonly string[]; default: string; description: string };
  /** Package names in recipes and package sets: what the pattern admits, and how the error names it. */
  packageName: { pattern: RegExp; description: string };
  /** Hint when no kernel turns up in /boot after installing the recipe's kernel package. */
  kernelHint: string;
  /** Programs the admin host needs to build this distro's images (listed by doctor). */
  hostTools: readonly HostTool[];
  /** The package sources a build uses (from the recipe or site mirror); part of the bootstrap cache key. */
  packageSources(base: DistroBase, siteMirror: string): Promise<Sources>;
  /** Files to write into the work directory and the command that bootstraps the base root as a tar archive at `target`. */
  bootstrap(options: { base: DistroBase; sources: Sources; target: string; work: string; sourceDateEpoch: number }): {
    files: { path: string; text: string }[];
    step: ToolStep;
  };
  /** The commands, in order, that install `packages` into the root (run with the chroot set up and network). */
  installPackages(root: string, packages: readonly string[], sourceDateEpoch: number): ToolStep[];
  /** The packages installed in an image root, read from the image's own package database; none if it has none. */
  installedPackages(root: string): Promise<InstalledPackage[]>;
  /** Install specs that pin every package of an earlier build to its recorded version (`build --locked`). */
  pinnedInstall(packages: readonly InstalledPackage[], arch: string): string[];
  /** Package manager leftovers hygiene removes (lists, caches, logs); `lists` are what must never reach an image. */
  hygiene: { remove: readonly ImageGlob[]; lists: ImageGlob & { label: string } };
  /** Sets the image's default locale (run inside the chroot). */
  configureLocale(root: string, locale: string, runInImage: RunInImage): Promise<void>;
  /** Sets the image's timezone to a zone of the image's own tz database. */
  configureTimezone(root: string, timezone: string): Promise<void>;
}
