import path from 'node:path';

import { Command } from 'commander';

import { ExitCode } from '../errors/user-error.js';
import { formatProblem } from '../errors/problems.js';
import { nodeFileProblems } from '../nodes/compute.js';
import { validateRepo } from '../site/validate.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';

export function validateCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('validate')
    .summary('check recipes, their package sets, overlays and hooks, and the site config')
    .description(
      'Checks recipes (default: every recipes/*.yaml), their parents, package sets, overlays and hooks, and\n' +
        'pxeforge.yaml. Every problem is reported at once with file:line:column and field path.\n' +
        'Exit code 0 when all is valid, 2 when anything is invalid.',
    )
    .argument('[recipes...]', 'recipe files to check')
    .action(async (files: string[]) => {
      const { io } = context;
      const repo = await context.repo();
      const result = await validateRepo(
        repo,
        files.map((file) => path.resolve(io.cwd, file)),
      );
      if (result.site !== undefined) result.problems.push(...(await nodeFileProblems(result.site, io.signal)));
      const ok = result.problems.length === 0;
      if (context.globals().json) {
        const recipes = result.recipes.map((recipe) => ({ name: recipe.name, file: recipe.chain[0], format: recipe.output.format }));
        io.stdout.write(`${JSON.stringify({ ok, recipes, problems: result.problems })}\n`);
      } else {
        writeLines(
          io.stdout,
          result.recipes.map(
            (recipe) =>
              `ok  ${recipe.chain[0]} (${recipe.name}: ${recipe.base.release} ${recipe.output.format}, ${recipe.packages.install.length} packages)`,
          ),
        );
        if (result.site !== undefined)
          writeLines(io.stdout, [
            `ok  pxeforge.yaml (${Object.keys(result.site.channels).length} channels, ${result.site.nodeGroups.length} node groups)`,
          ]);
        writeLines(io.stderr, result.problems.map(formatProblem));
        if (!ok) {
          const files = new Set(result.problems.map((problem) => problem.file)).size;
          io.stderr.write(`${result.problems.length} problem(s) in ${files} file(s)\n`);
        }
      }
      setExit(ok ? ExitCode.ok : ExitCode.invalidInput);
    });
}
