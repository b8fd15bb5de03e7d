import path from 'node:path';

import { Command } from 'commander';

import { lockRecipe } from '../image/locked.js';
import { ExitCode, invalidInput, isUserError } from '../errors/user-error.js';
import { readManifest, resolveVersion } from '../store/store.js';
import { eachLimited } from '../progress/each-limited.js';
import { namedEmit } from '../progress/reporter.js';
import { chooseReporter, createReporter } from '../progress/choose-reporter.js';
import { requireRoot } from './needs-root.js';
import type { BuiltImage } from '../executors/executor.js';
import { executorKind } from '../executors/registry.js';
import { seconds } from '../progress/plain-reporter.js';
import { loadRecipe } from '../recipe/load.js';
import type { Recipe } from '../recipe/recipe.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

interface BuildFlags {
  cache: boolean;
  executor: string;
  locked?: string;
  parallel: string;
  cacheDir?: string;
  workDir?: string;
}

/** `--cache-dir` and `--work-dir` over pxeforge.yaml's `cache` and `work` (a pod's node-local storage, say). */
function placeLocalDirs<S extends { cache: string; work: string }>(site: S, flags: BuildFlags, cwd: string, local: boolean): S {
  if (flags.cacheDir === undefined && flags.workDir === undefined) return site;
  if (!local) throw invalidInput('BAD_OPTION', '--cache-dir and --work-dir are for the local executor (pods have their own)');
  const cache = flags.cacheDir === undefined ? site.cache : path.resolve(cwd, flags.cacheDir);
  const work =
    flags.workDir === undefined ? (flags.cacheDir === undefined ? site.work : path.join(cache, 'work')) : path.resolve(cwd, flags.workDir);
  return { ...site, cache, work, localSetting: '--cache-dir and --work-dir' };
}

export function buildCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('build')
    .summary('build recipes into new image versions in the store')
    .description(
      'Builds each recipe on this host (root: it mounts and chroots) into a new immutable version\n' +
        'under <store>/images/<name>/<version>/. Steps whose inputs did not change come from the cache.',
    )
    .argument('<recipes...>', 'recipe files')
    .option('--no-cache', 'rebuild every step, neither reading nor writing the cache')
    .option('--locked <image>', 'install exactly the package versions of this earlier version (name@version)')
    .option('--executor <executor>', 'where the build runs: local (this host) or kubernetes (privileged pods, see pxeforge.yaml)', 'local')
    .option('--parallel <n>', 'build up to n recipes at once', '1')
    .option('--cache-dir <dir>', "the step cache instead of pxeforge.yaml's `cache` (local executor; on a local disk)")
    .option('--work-dir <dir>', "where work trees go instead of pxeforge.yaml's `work` (local executor; on a local disk)")
    .action(async (files: string[], options: BuildFlags) => {
      const { io } = context;
      const kind = executorKind(options.executor);
      const parallel = Number(options.parallel);
      if (!Number.isInteger(parallel) || parallel < 1)
        throw invalidInput('BAD_OPTION', `--parallel takes a whole number ≥ 1, got \`${options.parallel}\``);
      const repo = await context.repo();
      const recipes: Recipe[] = [];
      for (const file of files) recipes.push(await loadRecipe(repo, path.resolve(io.cwd, file)));
      const site = placeLocalDirs(await requireSite(repo, ['build', ...kind.siteParts]), options, io.cwd, kind.local);
      if (options.locked !== undefined) {
        if (recipes.length !== 1) throw invalidInput('LOCK_MISMATCH', '--locked takes exactly one recipe');
        const manifest = await readManifest((await resolveVersion(site.store, options.locked)).dir);
        recipes[0] = lockRecipe(recipes[0]!, manifest);
      }
      const executor = await kind.create({ repo, site, useCache: options.cache, signal: io.signal, output: io.stdout });
      if (kind.local) requireRoot('build');
      const json = context.globals().json === true;
      const several = recipes.length > 1 && parallel > 1;
      const shared = several ? createReporter(json ? 'json' : 'plain', io.stdout) : undefined;
      const failures: string[] = [];
      const buildOne = async (recipe: Recipe) => {
        const reporter = shared ?? createReporter(chooseReporter({ json, stream: io.stdout }), io.stdout);
        const emit = shared === undefined ? reporter.onEvent : namedEmit(reporter.onEvent, recipe.name);
        const started = performance.now();
        let result: BuiltImage;
        try {
          result = await executor.build(recipe, emit);
        } catch (error) {
          // With several builds, one failure does not stop the others (Ctrl-C does).
          if (!several || !isUserError(error) || error.exitCode === ExitCode.interrupted) throw error;
          failures.push(`${recipe.name}: ${error.message.split('\n')[0]}`);
          return;
        } finally {
          if (shared === undefined) await reporter.close();
        }
        if (json) io.stdout.write(`${JSON.stringify({ type: 'result', name: result.name, version: result.version, dir: result.dir })}\n`);
        else writeLines(io.stdout, [`built ${result.name}@${result.version} in ${seconds(performance.now() - started)}: ${result.dir}`]);
      };
      try {
        await eachLimited(recipes, parallel, buildOne);
      } finally {
        await shared?.close();
      }
      if (failures.length > 0)
        writeLines(
          io.stderr,
          failures.map((line) => `FAILED ${line}`),
        );
      setExit(failures.length === 0 ? ExitCode.ok : ExitCode.failure);
    });
}
