import { Command } from 'commander';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import type { ChangeResult, TreeTools } from '../promote/apply.js';
import { checkReason } from '../promote/audit-text.js';
import { promote, refresh, rollback } from '../promote/promote.js';
import { treePaths } from '../promote/tree.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

/** The tree, the site config and how to report, for the verbs that change or read the PXE tree. */
export async function treeTools(context: CommandContext, wait: string | undefined): Promise<TreeTools> {
  const waitS = Number(wait ?? '300');
  if (!Number.isFinite(waitS) || waitS < 0) throw invalidInput('BAD_OPTION', `--wait takes seconds, got \`${wait}\``);
  const site = await requireSite(await context.repo(), ['build', 'tree'], { checkImages: true });
  const json = context.globals().json === true;
  const { io } = context;
  const emit: Emit = (event) => {
    if (json) io.stdout.write(`${JSON.stringify(event)}\n`);
    else if (event.type === 'info' || event.type === 'warning')
      io.stderr.write(`${event.type === 'warning' ? 'warning: ' : ''}${event.message}\n`);
  };
  return { site, paths: treePaths(site.tftpRoot), emit, signal: io.signal, waitMs: waitS * 1000 };
}

const waitOption = ['--wait <seconds>', 'how long to wait for another change holding the tree lock', '300'] as const;

function report(context: CommandContext, tools: TreeTools, verb: string, result: ChangeResult & { placed?: string }): void {
  const { io } = context;
  if (context.globals().json) {
    io.stdout.write(`${JSON.stringify({ type: 'result', ...result })}\n`);
    return;
  }
  if (result.entry === undefined) {
    writeLines(io.stdout, [`nothing to do: ${result.nothing}`]);
    return;
  }
  const { entry } = result;
  const what =
    entry.action === 'refresh'
      ? 'rendered the node groups of pxeforge.yaml anew'
      : `${verb} ${entry.image} in ${entry.channel}: ${entry.from ?? '(nothing)'} -> ${entry.to}`;
  const timing = Object.entries(result.timings)
    .filter(([, ms]) => ms >= 1)
    .map(([step, ms]) => `${step} ${ms} ms`)
    .join(', ');
  const lines = [
    `${what} (generation ${result.generation}${result.previousGeneration === undefined ? '' : `, was ${result.previousGeneration}`})`,
    ...(result.placed === undefined || result.placed === 'present' ? [] : [`artifacts ${result.placed} into ${tools.paths.images}`]),
    ...(entry.forced ? ['recorded as FORCED'] : []),
    ...(result.nodeArchives === undefined || result.nodeArchives.nodes === 0
      ? []
      : [
          `node files: ${result.nodeArchives.nodes} node(s); ${result.nodeArchives.written} archive(s) written, ${result.nodeArchives.kept} already in the tree`,
        ]),
    `timings: ${timing}`,
  ];
  writeLines(io.stdout, lines);
  for (const group of result.waiting) {
    const action = tools.site.unknownNodes.action;
    tools.emit({
      type: 'warning',
      message: `node group ${group.name} follows ${group.image} in ${group.channel}, which has never been promoted there: its ${group.members} node(s) boot as unknown nodes (${action})`,
    });
  }
  for (const entryPath of result.siteOwned) {
    tools.emit({ type: 'info', message: `left the site's own ${entryPath} in place (it decides what unknown nodes do there)` });
  }
}

export function promoteCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('promote')
    .summary('switch a channel of the PXE tree to an image version (atomic, recorded)')
    .description(
      'Checks the artifacts against the manifest, places them under pxeforge/images/<name>/<version>/\n' +
        'in the TFTP root (hard links, or copies), renders a complete new generation of boot configs\n' +
        '(iPXE, pxelinux, GRUB) for every node group, and flips pxeforge/current to it with one rename.\n' +
        'Protected channels take only versions whose boot test passed for exactly these artifacts.',
    )
    .argument('<image>', 'name@version (or name for the latest version)')
    .requiredOption('--channel <channel>', 'channel to switch (from pxeforge.yaml)')
    .option('--reason <text>', 'why (recorded in the history)')
    .option('--force', 'promote to a protected channel without a matching passing boot test (needs --reason)')
    .option('--allow-dirty', 'promote to a protected channel a version built from uncommitted recipe changes')
    .option(...waitOption)
    .action(async (image: string, options: { channel: string; reason?: string; force?: boolean; allowDirty?: boolean; wait: string }) => {
      const tools = await treeTools(context, options.wait);
      const reason = checkReason(options.reason);
      const result = await promote(tools, {
        image,
        channel: options.channel,
        reason,
        force: options.force,
        allowDirty: options.allowDirty,
      });
      report(context, tools, 'promoted', result);
      setExit(ExitCode.ok);
    });
}

export function rollbackCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('rollback')
    .summary('switch a channel back to the version it served before (nothing is copied)')
    .argument('<name>', 'image name')
    .requiredOption('--channel <channel>', 'channel to roll back')
    .option('--to <version>', 'an earlier version of this channel (default: the one before the current)')
    .option('--reason <text>', 'why (recorded in the history)')
    .option(...waitOption)
    .action(async (name: string, options: { channel: string; to?: string; reason?: string; wait: string }) => {
      const tools = await treeTools(context, options.wait);
      const reason = checkReason(options.reason);
      const result = await rollback(tools, { image: name, channel: options.channel, to: options.to, reason });
      report(context, tools, 'rolled back', result);
      setExit(ExitCode.ok);
    });
}

export function refreshCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('refresh')
    .summary('render the boot configs anew after node groups changed in pxeforge.yaml (channels unchanged)')
    .option('--reason <text>', 'why (recorded in the history)')
    .option(...waitOption)
    .action(async (options: { reason?: string; wait: string }) => {
      const tools = await treeTools(context, options.wait);
      const reason = checkReason(options.reason);
      report(context, tools, 'refreshed', await refresh(tools, reason));
      setExit(ExitCode.ok);
    });
}
