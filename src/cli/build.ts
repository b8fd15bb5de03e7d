import path from 'node:path';

import { Command } from 'commander';

import { buildImage } from '../build/build.js';
import { lockRecipe } from '../build/locked.js';
import { ExitCode, invalidInput, UserError } from '../errors/user-error.js';
import { readManifest, resolveVersion } from '../store/store.js';
import { chooseReporter, createReporter } from '../pipeline/reporter.js';
import { seconds } from '../pipeline/plain-reporter.js';
import { loadRecipe } from '../recipe/load.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSiteConfig } from './load-site.js';

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
    .option('--executor <executor>', 'where the build runs: local', 'local')
    .action(async (files: string[], options: { cache: boolean; executor: string; locked?: string }) => {
      const { io } = context;
      if (options.executor !== 'local') {
        throw new UserError('UNKNOWN_EXECUTOR', `executor \`${options.executor}\` is not available`, { hint: 'use --executor local', exitCode: ExitCode.invalidInput });
      }
      const repo = await context.repo();
      const recipes = [];
      for (const file of files) recipes.push(await loadRecipe(repo, path.resolve(io.cwd, file)));
      const site = await requireSiteConfig(repo);
      if (options.locked !== undefined) {
        if (recipes.length !== 1) throw invalidInput('LOCK_MISMATCH', '--locked takes exactly one recipe');
        const manifest = await readManifest((await resolveVersion(site.store, options.locked)).dir);
        recipes[0] = lockRecipe(recipes[0]!, manifest);
      }
      if (process.getuid?.() !== 0) {
        throw new UserError('NEEDS_ROOT', 'building an image needs root (it mounts /proc, /sys and /dev into the image root and chroots)', {
          hint: 'run pxeforge build as root on the admin host',
        });
      }
      const json = context.globals().json === true;
      for (const recipe of recipes) {
        const reporter = createReporter(chooseReporter({ json, stream: io.stdout }), io.stdout);
        const started = performance.now();
        let result;
        try {
          result = await buildImage({ recipe, repo, site, useCache: options.cache, emit: reporter.onEvent, signal: io.signal });
        } finally {
          await reporter.close();
        }
        if (json) io.stdout.write(`${JSON.stringify({ type: 'result', name: result.name, version: result.version, dir: result.dir })}\n`);
        else writeLines(io.stdout, [`built ${result.name}@${result.version} in ${seconds(performance.now() - started)}: ${result.dir}`]);
      }
      setExit(ExitCode.ok);
    });
}
