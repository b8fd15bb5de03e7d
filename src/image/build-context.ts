import type { Emit } from '../events/events.js';
import type { Recipe } from '../recipe/recipe.js';
import type { RecipeRepo } from '../recipe/repo.js';
import type { BuildSettings } from '../site/site-config.js';
import type { Manifest } from '../store/manifest.js';
import type { CacheOutcome, StepCache } from './cache.js';
import type { HygieneReport } from './hygiene.js';
import type { BuildPlan } from './plan.js';

/** What a build is given, what it returns, and the state its stages share (build.ts runs them). */

export interface BuildOptions {
  recipe: Recipe;
  repo: RecipeRepo;
  site: BuildSettings;
  useCache: boolean;
  emit: Emit;
  signal: AbortSignal;
  /** Provenance measured where the recipe repository is (a pod gets the files, not the git checkout). */
  provenance?: { commit: string | null; dirty: boolean; commitTime: number | null };
  /** Recorded in the manifest; `kubernetes` when the build runs in a pod. */
  executor?: 'local' | 'kubernetes';
}

export interface BuildResult {
  name: string;
  version: string;
  dir: string;
  manifest: Manifest;
}

/** State the stages share. Only the stages write to it, in order. */
export interface BuildContext {
  options: BuildOptions;
  plan: BuildPlan;
  cache: StepCache;
  git: { commit: string | null; dirty: boolean };
  work: string;
  root: string;
  staged: string;
  /** Makes the staged version visible in the store (the last stage). */
  publish: () => Promise<string>;
  version: string;
  cacheOutcomes: Record<string, CacheOutcome>;
  /** Where this build's bootstrap tarball and package layer are (cache entries or private). */
  layers: { bootstrap?: string; packages?: string };
  kernelVersion?: string;
  hygiene?: HygieneReport;
  durations: Record<string, number>;
  /** Waits until build.log (in the work directory) holds every line emitted so far. */
  flushLog(): Promise<string>;
  /** Every input file and its digest (recipe chain, package sets, overlays, hooks). */
  inputs: Record<string, string>;
}
