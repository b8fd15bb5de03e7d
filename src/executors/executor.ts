import type { Writable } from 'node:stream';

import type { TreeBoot } from '../boot-test/boot-test.js';
import type { TestReport } from '../boot-test/report.js';
import type { Emit } from '../events/events.js';
import type { Recipe } from '../recipe/recipe.js';
import type { RecipeRepo } from '../recipe/repo.js';
import type { BuildSettings, SiteExecutors, SitePart } from '../site/site-config.js';

/** A version a build made: its name, version and directory in the store. */
export interface BuiltImage {
  name: string;
  version: string;
  dir: string;
}

/** Where builds and boot tests run: this host, or elsewhere (kubernetes pods). */
export interface Executor {
  name: string;
  /** Builds a recipe into a new version in the store. */
  build(recipe: Recipe, emit: Emit): Promise<BuiltImage>;
  /** Boot-tests an image version (name@version, or name for the latest) and writes its report into the store. */
  test(image: string, options: { via: 'direct' | 'pxe'; tree?: TreeBoot }, emit: Emit): Promise<TestReport>;
}

/** What an executor works with: the repository, the site's build settings (and executors), how to stop. */
export interface ExecutorDeps {
  repo: RecipeRepo;
  site: BuildSettings & Partial<Pick<SiteExecutors, 'kubernetes'>>;
  /** Reuse cached build steps (`--no-cache` turns it off). */
  useCache: boolean;
  signal: AbortSignal;
  /** Where the events end up (stdout): a remote executor reads its pods' logs no faster than this takes them. */
  output?: Writable;
}

/** One entry of the executor registry. */
export interface ExecutorKind {
  name: string;
  description: string;
  /** Runs on this host: builds need root here, and it can boot from this host's PXE tree. */
  local: boolean;
  /** The parts of pxeforge.yaml it reads besides the build settings. */
  siteParts: readonly Exclude<SitePart, 'tree'>[];
  create(deps: ExecutorDeps): Promise<Executor>;
}
