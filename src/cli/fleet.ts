import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { Command } from 'commander';

import { ExitCode } from '../errors/user-error.js';
import { printable } from '../errors/quote-text.js';
import { type FleetMember, fleetStatus } from '../fleet/fleet-status.js';
import { writeAtomic } from '../nodes/host-keys.js';
import { fleetSnapshotFile } from '../report/fleet-snapshot.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { readCurrent, treePaths } from '../promote/tree.js';
import { isActive } from '../rollout/record.js';
import { rolloutStatus } from '../rollout/rollout.js';
import { rolloutSummary } from './rollout.js';
import { requireSite } from './load-site.js';

export function fleetCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const command = new Command('fleet').summary('what the nodes actually booted, read from each node over SSH');
  command
    .command('status')
    .summary('per node: what it should boot, what it booted, verified or not; exit 1 when a node drifts')
    .option('--group <group>', 'only the members of this node group')
    .action(async (options: { group?: string }) => {
      // --json (a global option) prints the snapshot.
      const json = context.globals().json === true;
      const site = await requireSite(await context.repo(), ['build', 'tree']);
      const progress = progressLine(context.io.stderr as NodeJS.WritableStream & { isTTY?: boolean }, json);
      let status: Awaited<ReturnType<typeof fleetStatus>>;
      try {
        status = await fleetStatus(site, { group: options.group, signal: context.io.signal, progress: progress.update });
      } finally {
        progress.done();
      }
      const file = fleetSnapshotFile(site.store);
      await mkdir(path.dirname(file), { recursive: true });
      await writeAtomic(file, `${JSON.stringify(status.snapshot, null, 1)}\n`, 0o644);
      if (json) context.io.stdout.write(`${JSON.stringify(status.snapshot)}\n`);
      else {
        writeLines(context.io.stdout, table(status.members, status.snapshot));
        const { rollout, controller } = await rolloutStatus({ paths: treePaths(site.tftpRoot) });
        if (rollout !== undefined && isActive(rollout))
          writeLines(context.io.stdout, rolloutSummary(rollout, controller, (await readCurrent(treePaths(site.tftpRoot)))?.state));
      }
      setExit(status.snapshot.counts.drift > 0 ? ExitCode.failure : ExitCode.ok);
    });
  return command;
}

/** A progress line on an interactive stderr (never with --json or in a pipe). */
function progressLine(stream: NodeJS.WritableStream & { isTTY?: boolean }, json: boolean) {
  const live = !json && stream.isTTY === true && process.env.CI === undefined;
  let shown = 0;
  return {
    update: (done: number, total: number) => {
      if (!live || (Date.now() - shown < 100 && done < total)) return;
      shown = Date.now();
      stream.write(`\rreading boot records: ${done}/${total}`);
    },
    done: () => {
      if (live && shown > 0) stream.write('\r\x1b[K');
    },
  };
}

const stateLabel: Record<FleetMember['state'], string> = {
  current: 'current',
  'pending reboot': 'PENDING REBOOT',
  drift: 'DRIFT',
  unreachable: 'unreachable',
};

function table(members: readonly FleetMember[], snapshot: { counts: Record<string, number>; generation: number | null }): string[] {
  const rows = members.map((m) => [
    m.host ?? m.mac,
    m.group,
    m.channel,
    m.expected.version === null ? '-' : `${m.expected.image}@${m.expected.version}`,
    m.booted === null
      ? '-'
      : `${m.booted.image ?? '?'}@${m.booted.version ?? '?'}${m.booted.generation === null || m.booted.generation === undefined ? '' : ` (gen ${m.booted.generation})`}`,
    m.verified === null ? '-' : m.verified ? 'yes' : 'NO',
    m.booted?.bootedAt ?? '-',
    `${stateLabel[m.state]}${m.problem === undefined ? '' : `: ${m.problem}`}`,
  ]);
  // Every value a node sent passed the boot record's schema; it is still escaped before it reaches a terminal.
  const header = ['host', 'group', 'channel', 'should boot', 'booted', 'verified', 'up since', 'state'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => printable(row[column]!).length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? printable(cell) : printable(cell).padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  const { counts } = snapshot;
  return [
    line(header),
    ...rows.map(line),
    `${members.length} node(s), generation ${snapshot.generation ?? '-'}: ${counts.current} current, ${counts.pendingReboot} pending reboot, ${counts.drift} drift, ${counts.unreachable} unreachable`,
  ];
}
