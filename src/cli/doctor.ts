import { Command } from 'commander';

import { checkHostTools, installCommand } from '../doctor/host-tools.js';
import { ExitCode } from '../errors/user-error.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';

export function doctorCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('doctor')
    .summary('list the host tools the pipeline needs and how to install what is missing')
    .description('Checks this host for the programs and files pxeforge runs. Exit code 1 when something is missing.')
    .action(async () => {
      const statuses = await checkHostTools();
      const fix = installCommand(statuses);
      if (context.globals().json) {
        const tools = statuses.map(({ tool, found }) => ({
          name: tool.name,
          package: tool.package,
          neededFor: tool.neededFor,
          found: found ?? null,
        }));
        context.io.stdout.write(`${JSON.stringify({ ok: fix === undefined, tools, install: fix ?? null })}\n`);
      } else {
        const width = Math.max(...statuses.map(({ tool }) => tool.name.length));
        writeLines(
          context.io.stdout,
          statuses.map(
            ({ tool, found }) =>
              `${found === undefined ? 'MISSING' : 'ok     '} ${tool.name.padEnd(width)}  ${tool.neededFor.padEnd(10)}  ${found ?? `(Debian package ${tool.package})`}`,
          ),
        );
        writeLines(
          context.io.stdout,
          fix === undefined ? ['all host tools are present'] : ['', 'to install what is missing, as root:', `  apt-get update && ${fix}`],
        );
      }
      setExit(fix === undefined ? ExitCode.ok : ExitCode.failure);
    });
}
