import path from 'node:path';

import { Command } from 'commander';

import { ValidationError } from '../errors/problems.js';
import { ExitCode, invalidInput } from '../errors/user-error.js';
import { seconds } from '../progress/plain-reporter.js';
import { namedEmit } from '../progress/reporter.js';
import { chooseReporter, createReporter } from '../progress/choose-reporter.js';
import { loadRecipes } from '../recipe/load.js';
import { changedRecipes, type Changes } from '../workflow/changed.js';
import { runPipeline, type PipelineOutcome } from '../workflow/pipeline.js';
import { checkReportDir } from '../report/write-report.js';
import { writeReport } from '../report/report.js';
import { executorKind } from '../executors/registry.js';
import { requireRoot } from './needs-root.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

export function changedCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('changed')
    .summary('the recipes a change affects since a git commit, and why')
    .description(
      'Compares the recipe repository at <ref> with the working tree (uncommitted and untracked files\n' +
        'included) and names each recipe whose inputs changed: its recipe file, `extends` parents,\n' +
        'package sets, overlays (and their metadata), hooks, and the build settings of pxeforge.yaml.',
    )
    .requiredOption('--since <ref>', 'git commit, branch or tag to compare with (e.g. HEAD~1, origin/main)')
    .action(async (options: { since: string }) => {
      const changes = await changedRecipes(await context.repo(), options.since);
      if (context.globals().json) context.io.stdout.write(`${JSON.stringify(changes)}\n`);
      else writeLines(context.io.stdout, describeChanges(changes));
      setExit(ExitCode.ok);
    });
}

function describeChanges(changes: Changes): string[] {
  const lines = changes.affected.map((recipe) => `${recipe.name}: ${recipe.reasons.join(', ')}`);
  if (changes.files.length === 0) lines.push(`nothing changed since ${changes.since} (${changes.commit.slice(0, 10)})`);
  else if (changes.affected.length === 0)
    lines.push(`no recipe is affected by the ${changes.files.length} file(s) changed since ${changes.since}: ${changes.files.join(', ')}`);
  const siteOnly = changes.unrelated.includes('pxeforge.yaml');
  if (siteOnly)
    lines.push('pxeforge.yaml changed but not what images are built from: `pxeforge refresh` renders new node groups into the PXE tree');
  return lines;
}

export function pipelineCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('pipeline')
    .summary('build, boot-test and promote (to an unprotected channel) each recipe, or each one a change affects')
    .argument('[recipes...]', 'recipe files (or --changed-since)')
    .option('--changed-since <ref>', 'the recipes affected by changes since this git commit (see `pxeforge changed`)')
    .option('--promote-to <channel>', 'promote each version that passed its boot test to this unprotected channel')
    .option('--executor <executor>', 'where builds and boot tests run: local (this host) or kubernetes (pods)', 'local')
    .option('--via <path>', 'how the boot test boots: direct or pxe', 'direct')
    .option('--parallel <n>', 'run up to n recipes at once', '1')
    .option('--no-cache', 'rebuild every step')
    .option('--reason <text>', 'recorded in the promotion history (default: pxeforge pipeline)')
    .option('--report <dir>', 'write the HTML report (`pxeforge report`) there at the end, also when a recipe failed')
    .action(
      async (
        files: string[],
        options: {
          changedSince?: string;
          promoteTo?: string;
          executor: string;
          via: string;
          parallel: string;
          cache: boolean;
          reason?: string;
          report?: string;
        },
      ) => {
        const { io } = context;
        const kind = executorKind(options.executor);
        if (options.via !== 'direct' && options.via !== 'pxe')
          throw invalidInput('BAD_OPTION', `--via takes direct or pxe, got \`${options.via}\``);
        const parallel = Number(options.parallel);
        if (!Number.isInteger(parallel) || parallel < 1)
          throw invalidInput('BAD_OPTION', `--parallel takes a whole number ≥ 1, got \`${options.parallel}\``);
        if (files.length > 0 === (options.changedSince !== undefined))
          throw invalidInput('BAD_OPTION', 'name recipe files or pass --changed-since <ref> (one of the two)');
        const repo = await context.repo();
        const json = context.globals().json === true;

        let targets = files.map((file) => path.resolve(io.cwd, file));
        if (options.changedSince !== undefined) {
          const changes = await changedRecipes(repo, options.changedSince);
          if (!json) writeLines(io.stdout, describeChanges(changes));
          targets = changes.affected.map((recipe) => path.join(repo.root, recipe.file));
          if (targets.length === 0) {
            if (json) io.stdout.write(`${JSON.stringify({ type: 'result', changes, outcomes: [] })}\n`);
            setExit(ExitCode.ok);
            return;
          }
        }
        const { recipes, problems } = await loadRecipes(repo, targets);
        if (problems.length > 0) throw new ValidationError(problems);
        // Node groups must name recipes only when the pipeline promotes (and so renders them).
        const site = await requireSite(repo, ['build', 'tree', ...kind.siteParts], { checkImages: options.promoteTo !== undefined });
        const reportDir = options.report === undefined ? undefined : path.resolve(io.cwd, options.report);
        if (reportDir !== undefined) await checkReportDir(reportDir, site.tftpRoot);
        const executor = await kind.create({ repo, site, useCache: options.cache, signal: io.signal, output: io.stdout });
        if (kind.local) requireRoot('pipeline');
        const several = recipes.length > 1;
        const reporter = createReporter(several && !json ? 'plain' : chooseReporter({ json, stream: io.stdout }), io.stdout);
        let outcomes: PipelineOutcome[];
        try {
          outcomes = await runPipeline({
            repo,
            site,
            recipes,
            promoteTo: options.promoteTo,
            via: options.via,
            parallel,
            useCache: options.cache,
            reason: options.reason,
            emit: (name) => (several ? namedEmit(reporter.onEvent, name) : reporter.onEvent),
            signal: io.signal,
            executor,
          });
        } finally {
          await reporter.close();
        }
        const report = reportDir === undefined ? undefined : await writeReport(site, reportDir);
        if (json)
          io.stdout.write(`${JSON.stringify({ type: 'result', outcomes, ...(report === undefined ? {} : { report: report.file }) })}\n`);
        else writeLines(io.stdout, [...summaryTable(outcomes), ...(report === undefined ? [] : [`report: ${report.file}`])]);
        setExit(outcomes.every((o) => o.failure === null) ? ExitCode.ok : ExitCode.failure);
      },
    );
}

export function summaryTable(outcomes: readonly PipelineOutcome[]): string[] {
  const rows = outcomes.map((o) => [
    o.recipe,
    o.version ?? '-',
    o.failure?.step === 'build' ? 'FAILED' : o.buildMs === null ? '-' : seconds(o.buildMs),
    o.test === null
      ? o.failure?.step === 'test'
        ? 'ERROR'
        : '-'
      : `${o.test.passed ? 'PASSED' : 'FAILED'} (${seconds(o.test.durationMs)})`,
    o.promotedTo ?? (o.failure?.step === 'promote' ? 'FAILED' : '-'),
  ]);
  const header = ['recipe', 'version', 'build', 'test', 'promoted to'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(header),
    ...rows.map(line),
    ...outcomes.filter((o) => o.failure !== null).map((o) => `${o.recipe}: ${o.failure!.step} failed: ${o.failure!.message}`),
  ];
}
