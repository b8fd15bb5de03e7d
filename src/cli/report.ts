import path from 'node:path';

import { Command } from 'commander';

import { ExitCode } from '../errors/user-error.js';
import { writeReport } from '../report/report.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

export function reportCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('report')
    .summary('write one self-contained HTML page: channels, node groups, history, images with boot timings')
    .requiredOption('--out <dir>', 'directory for index.html (never inside the PXE tree)')
    .action(async (options: { out: string }) => {
      const site = await requireSite(await context.repo(), ['build', 'tree']);
      const result = await writeReport(site, path.resolve(context.io.cwd, options.out));
      if (context.globals().json) context.io.stdout.write(`${JSON.stringify(result)}\n`);
      else writeLines(context.io.stdout, [`wrote ${result.file} (${(result.bytes / 1024).toFixed(0)} KiB in ${result.ms} ms)`]);
      setExit(ExitCode.ok);
    });
}
