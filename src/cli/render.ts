import path from 'node:path';

import { Command } from 'commander';
import { stringify } from 'yaml';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import { argoWorkflowTemplate } from '../executors/kubernetes/argo.js';
import { loadRecipe } from '../recipe/load.js';
import { dnsmasqHostLines } from '../site/dnsmasq-hosts.js';
import type { CommandContext } from './context.js';
import { requireSite } from './load-site.js';

export function renderCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const render = new Command('render').summary('render deploy files from the recipes and pxeforge.yaml');
  render
    .command('argo')
    .summary('an Argo WorkflowTemplate for a recipe: build → boot test → staging → approval → promote')
    .argument('<recipe>', 'recipe file')
    .action(async (file: string) => {
      const repo = await context.repo();
      const absolute = path.resolve(context.io.cwd, file);
      const recipe = await loadRecipe(repo, absolute);
      const site = await requireSite(repo, ['executors']);
      if (site.kubernetes === undefined) {
        throw invalidInput(
          'NO_KUBERNETES',
          "pxeforge.yaml has no `kubernetes` section: the template takes the pods' image, storage and limits from it",
          'add kubernetes: {namespace, image, storage} (see docs/kubernetes.md)',
        );
      }
      const template = argoWorkflowTemplate(recipe, site, path.relative(repo.root, absolute));
      context.io.stdout.write(
        `# Rendered by pxeforge render argo ${path.relative(repo.root, absolute)}\n${stringify(template, { lineWidth: 0 })}`,
      );
      setExit(ExitCode.ok);
    });
  render
    .command('dnsmasq')
    .summary("dnsmasq's dhcp-host lines for the nodes of pxeforge.yaml: fixed address and host name per MAC")
    .action(async () => {
      const site = await requireSite(await context.repo(), ['tree']);
      context.io.stdout.write(dnsmasqHostLines(site.nodeConfig?.nodes ?? [], 'Rendered by pxeforge render dnsmasq'));
      setExit(ExitCode.ok);
    });
  return render;
}
