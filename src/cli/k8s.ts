import { Command } from 'commander';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import { ownedSelector } from '../executors/kubernetes/pod-manifest.js';
import { apiError } from '../executors/kubernetes/pod-failure.js';
import { parseProvenance } from '../executors/kubernetes/protocol.js';
import { type PodBuildOptions, runBuildInPod, runTestInPod } from '../executors/kubernetes/worker.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { kubernetesClient } from '../executors/kubernetes/lazy-client.js';
import { requireSite } from './load-site.js';

export function k8sCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const k8s = new Command('k8s').summary('the kubernetes executor: clean up its pods (and what runs inside them)');
  k8s
    .command('cleanup')
    .summary('delete every pod pxeforge started in the namespace (left over after a crash), by label')
    .option('--run <id>', 'only the pods of this run')
    .action(async (options: { run?: string }) => {
      const site = await requireSite(await context.repo(), ['executors']);
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
    .requiredOption('--cache-dir <dir>', 'the step cache, on node-local storage')
    .option('--work-dir <dir>', 'where work trees go, on node-local storage; default <cache-dir>/work')
    .requiredOption('--provenance <json>')
    .option('--no-cache')
    .action(async (options: Omit<PodBuildOptions, 'useCache' | 'provenance'> & { cache: boolean; provenance: string }) => {
      await runBuildInPod(
        {
          inputs: options.inputs,
          sha256: options.sha256,
          recipe: options.recipe,
          store: options.store,
          cacheDir: options.cacheDir,
          ...(options.workDir === undefined ? {} : { workDir: options.workDir }),
          useCache: options.cache,
          provenance: parseProvenance(options.provenance),
        },
        context.io.stdout,
        context.io.signal,
      );
      setExit(ExitCode.ok);
    });
  k8s
    .command('run-test', { hidden: true })
    .argument('<image>')
    .requiredOption('--store <dir>')
    .option('--via <path>', '', 'direct')
    .action(async (image: string, options: { store: string; via: string }) => {
      if (options.via !== 'direct' && options.via !== 'pxe')
        throw invalidInput('BAD_OPTION', `--via takes direct or pxe, got \`${options.via}\``);
      const passed = await runTestInPod({ store: options.store, image, via: options.via }, context.io.stdout, context.io.signal);
      setExit(passed ? ExitCode.ok : ExitCode.failure);
    });
  return k8s;
}
