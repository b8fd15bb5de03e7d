import { Command } from 'commander';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import { collectGarbage } from '../promote/gc.js';
import { breakTreeLock, describeOwner, readLock } from '../promote/lock.js';
import { printable } from '../errors/quote-text.js';
import { readCurrent, readHistoryFile, treePaths, type HistoryEntry } from '../promote/tree.js';
import { verifyTree } from '../promote/verify.js';
import { isActive } from '../rollout/record.js';
import { rolloutStatus } from '../rollout/rollout.js';
import { rolloutSummary } from './rollout.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';
import { treeTools } from './promote.js';

export function statusCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('status')
    .summary('what each channel serves, since when and by whom, and what each node group boots')
    .action(async () => {
      const site = await requireSite(await context.repo(), ['tree']);
      const paths = treePaths(site.tftpRoot);
      const current = await readCurrent(paths);
      const lock = await readLock(paths.lock);
      const state = current?.state;
      if (context.globals().json) {
        const { rollout } = await rolloutStatus({ paths });
        context.io.stdout.write(
          `${JSON.stringify({ tftpRoot: site.tftpRoot, generation: current?.generation ?? null, channels: state?.channels ?? {}, groups: state?.groups ?? [], rollouts: state?.rollouts ?? {}, rollout: rollout !== undefined && isActive(rollout) ? rollout : null, lock: lock ?? null })}\n`,
        );
        setExit(ExitCode.ok);
        return;
      }
      const lines = [`PXE tree ${site.tftpRoot}: ${current === undefined ? 'nothing promoted yet' : `generation ${current.generation}`}`];
      for (const [channel, config] of Object.entries(site.channels)) {
        lines.push(`channel ${channel}${config.protected ? ' (protected)' : ''}:`);
        const images = Object.entries(state?.channels[channel] ?? {}).sort(([a], [b]) => a.localeCompare(b));
        if (images.length === 0) lines.push('  (serves nothing)');
        for (const [image, served] of images) {
          const test = served.forced
            ? 'FORCED without a passing test'
            : served.testPassed === true
              ? 'boot test passed'
              : served.testPassed === false
                ? 'boot test FAILED'
                : 'not boot-tested';
          const back = served.previous.length === 0 ? 'no earlier version' : `rollback to ${served.previous.at(-1)}`;
          lines.push(
            printable(
              `  ${image}@${served.version}  since ${served.since} by ${served.by}; ${test}; ${served.commit?.slice(0, 10) ?? 'no commit'}${served.dirty ? '+dirty' : ''}; ${back}`,
            ),
          );
        }
      }
      lines.push('node groups:');
      for (const group of state?.groups ??
        site.nodeGroups.map((g) => ({
          name: g.name,
          image: g.image,
          channel: g.channel,
          version: null,
          members: g.members.length,
          firmware: g.firmware,
        }))) {
        const boots =
          group.version === null
            ? `nothing yet (${group.image} was never promoted to ${group.channel}); boots as an unknown node: ${site.unknownNodes.action}`
            : `${group.image}@${group.version}`;
        lines.push(
          `  ${group.name.padEnd(12)} ${String(group.members).padStart(5)} node(s), ${group.firmware}, ${group.channel}: ${boots}`,
        );
      }
      const rendered = JSON.stringify((state?.groups ?? []).map((g) => [g.name, g.image, g.channel, g.members, g.firmware]));
      const configured = JSON.stringify(site.nodeGroups.map((g) => [g.name, g.image, g.channel, g.members.length, g.firmware]));
      if (state !== undefined && rendered !== configured)
        lines.push('note: node groups in pxeforge.yaml differ from this generation; `pxeforge refresh` renders them');
      if (lock !== undefined)
        lines.push(
          `lock: held by ${describeOwner(lock)}${lock.state === 'dead' ? ' — which is no longer running (the next change takes it over)' : ''}`,
        );
      const rollout = await rolloutStatus({ paths });
      if (rollout.rollout !== undefined && isActive(rollout.rollout))
        lines.push(...rolloutSummary(rollout.rollout, rollout.controller, state));
      writeLines(context.io.stdout, lines);
      setExit(ExitCode.ok);
    });
}

export function historyCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('history')
    .summary('every promotion and rollback of the PXE tree, oldest first')
    .option('--channel <channel>', 'only this channel')
    .option('--image <name>', 'only this image')
    .option('--last <n>', 'only the last n entries')
    .action(async (options: { channel?: string; image?: string; last?: string }) => {
      const site = await requireSite(await context.repo(), ['tree']);
      const paths = treePaths(site.tftpRoot);
      const file = await readHistoryFile(paths);
      for (const { line, problem } of file.damaged) context.io.stderr.write(`warning: ${paths.history}:${line}: ${problem}; skipped\n`);
      let entries = file.entries.filter(
        (e: HistoryEntry) =>
          (options.channel === undefined || e.channel === options.channel) && (options.image === undefined || e.image === options.image),
      );
      if (options.last !== undefined) {
        const last = Number(options.last);
        if (!Number.isInteger(last) || last < 1)
          throw invalidInput('BAD_OPTION', `--last takes a whole number ≥ 1, got \`${options.last}\``);
        entries = entries.slice(-last);
      }
      if (context.globals().json) {
        context.io.stdout.write(`${JSON.stringify(entries)}\n`);
      } else {
        writeLines(
          context.io.stdout,
          entries.length === 0
            ? ['no history yet']
            : entries.map((e) => {
                const what =
                  e.action === 'refresh'
                    ? 'refresh (node groups re-rendered)'
                    : `${e.action.padEnd(8)} ${e.channel} ${e.image}: ${e.from ?? '-'} -> ${e.to}`;
                const flags = [
                  e.forced ? 'FORCED' : '',
                  e.allowDirty ? 'dirty allowed' : '',
                  e.testReport ? `test ${e.testReport.slice(0, 12)}` : '',
                ]
                  .filter(Boolean)
                  .join(', ');
                const who = `${e.user}${e.sudoUser ? ` (sudo by ${e.sudoUser})` : ''}@${e.host}`;
                const recovered = e.recovered ? `  (${e.recovered})` : '';
                // Everything from the file is escaped: anyone who can write the tree can write this file.
                return printable(
                  `${e.at}  gen ${String(e.generation).padStart(4)}  ${who}  ${what}${flags ? ` [${flags}]` : ''}${e.reason ? `  "${e.reason}"` : ''}${recovered}`,
                );
              }),
        );
      }
      setExit(ExitCode.ok);
    });
}

export function gcCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('gc')
    .summary('remove old generations and image versions nothing can boot or roll back to')
    .option('--keep <n>', 'generations to keep, current included; also how far back each channel can still roll back', '5')
    .option('--dry-run', 'only list what would be removed')
    .option('--wait <seconds>', 'how long to wait for another change holding the tree lock', '300')
    .action(async (options: { keep: string; dryRun?: boolean; wait: string }) => {
      const keep = Number(options.keep);
      if (!Number.isInteger(keep) || keep < 1) throw invalidInput('BAD_OPTION', `--keep takes a whole number ≥ 1, got \`${options.keep}\``);
      const tools = await treeTools(context, options.wait);
      const result = await collectGarbage(tools.paths, {
        keep,
        dryRun: options.dryRun === true,
        waitMs: tools.waitMs,
        signal: tools.signal,
        emit: tools.emit,
      });
      if (context.globals().json) {
        context.io.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        const verb = options.dryRun ? 'would remove' : 'removed';
        writeLines(context.io.stdout, [
          ...result.removedGenerations.map((n) => `${verb} generation ${n}`),
          ...result.removedVersions.map((v) => `${verb} ${v}`),
          `${verb} ${result.removedGenerations.length} generation(s) and ${result.removedVersions.length} image version(s); kept generations ${result.keptGenerations.join(', ') || '-'} and ${result.keptVersions.length} version(s)`,
          ...(result.nodeArchives === undefined
            ? []
            : [`${verb} ${result.nodeArchives.removed.length} node archive(s); kept ${result.nodeArchives.kept}`]),
        ]);
      }
      setExit(ExitCode.ok);
    });
}

export function verifyCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('verify')
    .summary('check the PXE tree: configs parse, every referenced file exists with its digest, current resolves')
    .action(async () => {
      const site = await requireSite(await context.repo(), ['tree']);
      const report = await verifyTree(treePaths(site.tftpRoot), { httpBaseUrl: site.httpBaseUrl });
      if (context.globals().json) {
        context.io.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        const { counts } = report;
        writeLines(context.io.stdout, [
          ...report.problems.map((p) => printable(`problem: ${p}`)),
          ...report.notes.map((n) => printable(`note: ${n}`)),
          `${report.ok ? 'OK' : `FAILED (${report.problems.length} problem(s))`}: generation ${report.generation ?? '-'}, ${counts.configs} configs, ${counts.links} node links, ${counts.entries} entry points, ${counts.artifacts} artifacts (${(counts.bytesHashed / 1024 / 1024).toFixed(1)} MiB hashed)`,
        ]);
      }
      setExit(report.ok ? ExitCode.ok : ExitCode.failure);
    });
}

export function unlockCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('unlock')
    .summary('remove the PXE tree lock left by a pxeforge process that is no longer running')
    .option('--force', 'also remove a lock whose owner runs on another host and cannot be checked from here')
    .action(async (options: { force?: boolean }) => {
      const site = await requireSite(await context.repo(), ['tree']);
      const removed = await breakTreeLock(treePaths(site.tftpRoot).lock, options.force === true);
      writeLines(context.io.stdout, [
        removed === undefined ? 'the PXE tree is not locked' : `removed the lock of ${describeOwner(removed)}`,
      ]);
      setExit(ExitCode.ok);
    });
}
