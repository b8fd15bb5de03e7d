import { Command } from 'commander';

import { type ArchSupport, checkHostTools, checkOtherArches, installCommand } from '../doctor/host-tools.js';
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
      const others = await checkOtherArches();
      if (context.globals().json) {
        const tools = statuses.map(({ tool, found }) => ({
          name: tool.name,
          package: tool.package,
          neededFor: tool.neededFor,
          found: found ?? null,
        }));
        const arches = others.map((other) => ({
          arch: other.arch,
          tools: other.tools.map(({ tool, found }) => ({
            name: tool.name,
            package: tool.package,
            neededFor: tool.neededFor,
            found: found ?? null,
          })),
          binfmt: other.binfmt ?? null,
        }));
        context.io.stdout.write(`${JSON.stringify({ ok: fix === undefined, tools, install: fix ?? null, arches })}\n`);
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
        writeLines(context.io.stdout, others.flatMap(archLines));
      }
      setExit(fix === undefined ? ExitCode.ok : ExitCode.failure);
    });
}

/** Images of another architecture: what their boot tests and (on a host of another architecture) their builds need; not counted as missing. */
function archLines(other: ArchSupport): string[] {
  const lines = ['', `for ${other.arch} images (only sites that build or boot them need these):`];
  for (const { tool, found } of other.tools)
    lines.push(
      `${found === undefined ? 'MISSING' : 'ok     '} ${tool.name}  ${tool.neededFor}  ${found ?? `(Debian package ${tool.package})`}`,
    );
  const { binfmt } = other;
  if (binfmt === undefined) {
    lines.push(`ok      builds run natively on this host`);
    return lines;
  }
  const state = {
    ok: `ok      binfmt handler ${binfmt.handler}  build  enabled, flags ${binfmt.flags}`,
    missing: `MISSING binfmt handler ${binfmt.handler}  build  not registered`,
    disabled: `MISSING binfmt handler ${binfmt.handler}  build  registered but disabled`,
    'no-fix-binary': `MISSING binfmt handler ${binfmt.handler}  build  without the F flag (flags ${binfmt.flags})`,
    unknown: `note    binfmt_misc is not mounted: a build of an ${other.arch} image mounts it (a change to this host it reports)`,
  }[binfmt.state];
  lines.push(state);
  if (!binfmt.archTest) lines.push('MISSING arch-test  build  (Debian package arch-test; mmdebstrap checks the handler with it)');
  if (binfmt.state !== 'ok' || !binfmt.archTest) lines.push(`  to build ${other.arch} images here, as root: ${binfmt.fix}`);
  const missing = installCommand(other.tools);
  if (missing !== undefined) lines.push(`  to boot-test ${other.arch} images here, as root: ${missing}`);
  return lines;
}
