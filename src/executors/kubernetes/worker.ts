import path from 'node:path';
import type { Writable } from 'node:stream';

import type { z } from 'zod';

import { testImage } from '../../boot-test/boot-test.js';
import { ValidationError } from '../../errors/problems.js';
import { makeTempDir } from '../../exec/temp-dirs.js';
import { buildImage } from '../../image/build.js';
import { jsonReporter } from '../../progress/json-reporter.js';
import { loadRecipe } from '../../recipe/load.js';
import type { Recipe } from '../../recipe/recipe.js';
import { recipeRepo, type RecipeRepo } from '../../recipe/repo.js';
import { loadBuildSettings, siteConfigName, type BuildSettings } from '../../site/site-config.js';
import type { Emit } from '../../events/events.js';
import { unpackInputs } from './inputs.js';
import { type provenanceArgument, writeBuildResult, writeTestResult } from './protocol.js';

/** What runs inside the pods (`pxeforge k8s run-build` and `run-test`): the other end of remote.ts. */

export interface PodBuildOptions {
  /** The inputs tar in the shared store, and its digest. */
  inputs: string;
  sha256: string;
  /** Repository-relative recipe file. */
  recipe: string;
  store: string;
  /** The step cache and the work trees: node-local, never on the shared file system. */
  cacheDir: string;
  /** Default `<cacheDir>/work`. */
  workDir?: string;
  useCache: boolean;
  provenance: z.output<typeof provenanceArgument>;
}

export interface PodInputs {
  repo: RecipeRepo;
  recipe: Recipe;
  /** pxeforge.yaml's build settings, with the store, cache and work trees where the pod has them. */
  site: BuildSettings;
}

/**
 * The build's inputs in `root`: the unpacked tar (checked against its digest), the recipe, and
 * the build settings of pxeforge.yaml (only those: the tar holds this one recipe, so node
 * groups naming other images are no concern of the build).
 */
export async function loadPodInputs(
  options: Pick<PodBuildOptions, 'inputs' | 'sha256' | 'recipe' | 'store' | 'cacheDir' | 'workDir'>,
  root: string,
  emit: Emit,
): Promise<PodInputs> {
  const unpacked = await unpackInputs(options.inputs, options.sha256, root);
  for (const message of unpacked.notes) emit({ type: 'warning', message: `build inputs: ${message}` });
  const repo = recipeRepo(root);
  const recipe = await loadRecipe(repo, path.join(root, options.recipe));
  const { site, problems } = await loadBuildSettings(repo);
  if (site === undefined || problems.length > 0) throw new ValidationError(problems);
  return {
    repo,
    recipe,
    site: {
      ...site,
      store: options.store,
      cache: options.cacheDir,
      work: options.workDir ?? path.join(options.cacheDir, 'work'),
      localSetting: `\`kubernetes.local\` in ${siteConfigName}`,
    },
  };
}

/** `k8s run-build`: unpack the inputs, build against the shared store, print events and the result line. */
export async function runBuildInPod(options: PodBuildOptions, output: Writable, signal: AbortSignal): Promise<void> {
  const work = await makeTempDir('pxeforge-inputs-');
  try {
    const reporter = jsonReporter(output);
    const { repo, recipe, site } = await loadPodInputs(options, path.join(work.path, 'repo'), reporter.onEvent);
    const result = await buildImage({
      recipe,
      repo,
      site,
      useCache: options.useCache,
      emit: reporter.onEvent,
      signal,
      provenance: options.provenance,
      executor: 'kubernetes',
    });
    writeBuildResult(output, result);
  } finally {
    await work.remove();
  }
}

/** `k8s run-test`: boot-test a version of the shared store, print events and the result line; true when it passed. */
export async function runTestInPod(
  options: { store: string; image: string; via: 'direct' | 'pxe' },
  output: Writable,
  signal: AbortSignal,
): Promise<boolean> {
  const reporter = jsonReporter(output);
  const report = await testImage({ store: options.store, image: options.image, via: options.via, emit: reporter.onEvent, signal });
  writeTestResult(output, report);
  return report.passed;
}
