import { ExitCode, isUserError, UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { eachLimited } from '../progress/each-limited.js';
import { promote, requireChannel } from '../promote/promote.js';
import { treePaths } from '../promote/tree.js';
import type { Recipe } from '../recipe/recipe.js';
import type { RecipeRepo } from '../recipe/repo.js';
import type { BuildSettings, SiteTree } from '../site/site-config.js';
import type { Executor } from '../executors/executor.js';

export interface PipelineOptions {
  repo: RecipeRepo;
  site: BuildSettings & SiteTree;
  recipes: Recipe[];
  promoteTo: string | undefined;
  via: 'direct' | 'pxe';
  parallel: number;
  useCache: boolean;
  reason: string | undefined;
  /** Events of one recipe (the pipeline names the recipe in each stage). */
  emit: (recipe: string) => Emit;
  signal: AbortSignal;
  /** Where builds and boot tests run. */
  executor: Executor;
}

export interface PipelineOutcome {
  recipe: string;
  version: string | null;
  buildMs: number | null;
  test: { passed: boolean; durationMs: number; failed: string[] } | null;
  promotedTo: string | null;
  /** The step that failed, and why; nothing after it ran. */
  failure: { step: 'build' | 'test' | 'promote'; message: string } | null;
}

/**
 * `pxeforge pipeline`: for each recipe, build → boot-test → promote to an unprotected
 * channel. A recipe whose build or test fails is not promoted; the others go on. Ctrl-C
 * stops everything.
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineOutcome[]> {
  const { site, promoteTo } = options;
  if (promoteTo !== undefined) {
    if (requireChannel(site, promoteTo).protected) {
      throw new UserError('PROTECTED_CHANNEL', `the pipeline promotes only to unprotected channels, and \`${promoteTo}\` is protected`, {
        exitCode: ExitCode.invalidInput,
        hint: `promote to a protected channel by hand once the image proved itself: pxeforge promote <name>@<version> --channel ${promoteTo}`,
      });
    }
  }
  const outcomes: PipelineOutcome[] = [];
  await eachLimited(options.recipes, options.parallel, async (recipe) => {
    outcomes.push(await one(options, recipe));
  });
  const order = options.recipes.map((recipe) => recipe.name);
  return outcomes.sort((a, b) => order.indexOf(a.recipe) - order.indexOf(b.recipe));
}

async function one(options: PipelineOptions, recipe: Recipe): Promise<PipelineOutcome> {
  const emit = options.emit(recipe.name);
  const { executor } = options;
  const outcome: PipelineOutcome = { recipe: recipe.name, version: null, buildMs: null, test: null, promotedTo: null, failure: null };
  const step = async (name: 'build' | 'test' | 'promote', work: () => Promise<void>): Promise<boolean> => {
    try {
      await work();
      return true;
    } catch (error) {
      // Ctrl-C and bugs end the whole pipeline; a failed step ends this recipe's run.
      if (!isUserError(error) || error.exitCode === ExitCode.interrupted) throw error;
      outcome.failure = { step: name, message: error.message.split('\n')[0]! };
      emit({ type: 'warning', message: `${recipe.name}: ${name} failed: ${error.message.split('\n')[0]}` });
      return false;
    }
  };

  const started = performance.now();
  const built = await step('build', async () => {
    const result = await executor.build(recipe, emit);
    outcome.version = result.version;
  });
  outcome.buildMs = Math.round(performance.now() - started);
  if (!built) return outcome;

  const tested = await step('test', async () => {
    const report = await executor.test(`${recipe.name}@${outcome.version}`, { via: options.via }, emit);
    const failed = report.checks.filter((check) => !check.passed).map((check) => check.name);
    outcome.test = { passed: report.passed, durationMs: report.durationMs, failed };
    if (!report.passed)
      throw new UserError(
        'TEST_FAILED',
        report.failure ? `${report.failure.reason} (stuck in ${report.failure.phase})` : `checks failed: ${failed.join(', ')}`,
      );
  });
  if (!tested || options.promoteTo === undefined) return outcome;

  await step('promote', async () => {
    await promote(
      { site: options.site, paths: treePaths(options.site.tftpRoot), emit, signal: options.signal, waitMs: 600_000 },
      { image: `${recipe.name}@${outcome.version}`, channel: options.promoteTo!, reason: options.reason ?? 'pxeforge pipeline' },
    );
    outcome.promotedTo = options.promoteTo!;
  });
  return outcome;
}
