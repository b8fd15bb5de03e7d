import path from 'node:path';

import { Command } from 'commander';

import { testImage } from '../boot-test/boot-test.js';
import { buildImage } from '../image/build.js';
import { ExitCode, invalidInput } from '../errors/user-error.js';
import { makeTempDir } from '../exec/temp-dirs.js';
import { unpackInputs } from '../executors/kubernetes/inputs.js';
import { ownedSelector } from '../executors/kubernetes/pod-manifest.js';
import { apiError } from '../executors/kubernetes/pod-failure.js';
import { jsonReporter } from '../progress/json-reporter.js';
import { loadRecipe } from '../recipe/load.js';
import { recipeRepo } from '../recipe/repo.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { kubernetesClient } from './kubernetes-client.js';
import { requireSiteConfig } from './load-site.js';

export function k8sCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const k8s = new Command('k8s').summary('the kubernetes executor: clean up its pods (and what runs inside them)');
  k8s
    .command('cleanup')
    .summary('delete every pod pxeforge started in the namespace (left over after a crash), by label')
    .option('--run <id>', 'only the pods of this run')
    .action(async (options: { run?: string }) => {
      const site = await requireSiteConfig(await context.repo());
      const client = await kubernetesClient(site.kubernetes);
      const labelSelector = options.run === undefined ? ownedSelector : `${ownedSelector},pxeforge.io/run=${options.run}`;
      let names: string[];
      try {
        const list = await client.core.listNamespacedPod({ namespace: client.namespace, labelSelector });
        names = list.items.map((pod) => pod.metadata!.name!);
        for (const name of names) await client.core.deleteNamespacedPod({ name, namespace: client.namespace, gracePeriodSeconds: 0 });
      } catch (error) {
        throw apiError(error, `cleaning up pods in ${client.namespace}`) ?? error;
      }
      writeLines(context.io.stdout, [...names.map((name) => `deleted pod ${client.namespace}/${name}`), `deleted ${names.length} pod(s)`]);
      setExit(ExitCode.ok);
    });

  // What the pods run: not for admins, so not in --help.
  k8s
    .command('run-build', { hidden: true })
    .requiredOption('--inputs <tar>')
    .requiredOption('--sha256 <digest>')
    .requiredOption('--recipe <file>', 'repository-relative recipe file')
    .requiredOption('--store <dir>')
    .requiredOption('--cache-dir <dir>')
    .requiredOption('--provenance <json>')
    .option('--no-cache')
    .action(
      async (options: {
        inputs: string;
        sha256: string;
        recipe: string;
        store: string;
        cacheDir: string;
        cache: boolean;
        provenance: string;
      }) => {
        const work = await makeTempDir('pxeforge-inputs-');
        try {
          const root = path.join(work.path, 'repo');
          const reporter = jsonReporter(context.io.stdout);
          const unpacked = await unpackInputs(options.inputs, options.sha256, root);
          for (const message of unpacked.notes) reporter.onEvent({ type: 'warning', message: `build inputs: ${message}` });
          const repo = recipeRepo(root);
          const recipe = await loadRecipe(repo, path.join(root, options.recipe));
          const site = { ...(await requireSiteConfig(repo)), store: options.store, cache: options.cacheDir };
          const provenance = JSON.parse(options.provenance) as { commit: string | null; dirty: boolean; commitTime: number | null };
          const result = await buildImage({
            recipe,
            repo,
            site,
            useCache: options.cache,
            emit: reporter.onEvent,
            signal: context.io.signal,
            provenance,
            executor: 'kubernetes',
          });
          context.io.stdout.write(`${JSON.stringify({ type: 'result', name: result.name, version: result.version, dir: result.dir })}\n`);
        } finally {
          await work.remove();
        }
        setExit(ExitCode.ok);
      },
    );
  k8s
    .command('run-test', { hidden: true })
    .argument('<image>')
    .requiredOption('--store <dir>')
    .option('--via <path>', '', 'direct')
    .action(async (image: string, options: { store: string; via: string }) => {
      if (options.via !== 'direct' && options.via !== 'pxe')
        throw invalidInput('BAD_OPTION', `--via takes direct or pxe, got \`${options.via}\``);
      const reporter = jsonReporter(context.io.stdout);
      const report = await testImage({ store: options.store, image, via: options.via, emit: reporter.onEvent, signal: context.io.signal });
      context.io.stdout.write(`${JSON.stringify({ type: 'result', name: report.name, version: report.version, passed: report.passed })}\n`);
      setExit(report.passed ? ExitCode.ok : ExitCode.failure);
    });
  return k8s;
}
