import { Command } from 'commander';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import { printable } from '../errors/quote-text.js';
import { checkReason } from '../promote/audit-text.js';
import type { TreeState } from '../promote/tree.js';
import { defaultFleetSettings } from '../fleet/fleet-status.js';
import { siteFleetOps } from '../rollout/fleet-ops.js';
import type { Rollout } from '../rollout/record.js';
import {
  abortRollout,
  nodeName,
  pauseRollout,
  resumeRollout,
  type RolloutOutcome,
  type RolloutTools,
  rolloutStatus,
  startRollout,
} from '../rollout/rollout.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { treeTools } from './promote.js';

/** The tree tools with the site's own ways to reach the nodes: SSH for boot records and checks, its reboot command. */
async function rolloutTools(context: CommandContext, wait: string | undefined): Promise<RolloutTools> {
  const tools = await treeTools(context, wait);
  const settings = tools.site.rollout;
  return {
    ...tools,
    ops: await siteFleetOps(tools.site, tools.signal),
    siteChecks: settings?.checks ?? [],
    defaultHealthTimeoutSeconds: (settings?.healthTimeoutMs ?? 900_000) / 1000,
    parallel: (tools.site.fleet ?? defaultFleetSettings).parallel,
  };
}

const waitOption = ['--wait <seconds>', 'how long to wait for another change holding the tree lock', '300'] as const;

export function rolloutCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const command = new Command('rollout').summary('move a channel to a new version node by node, in waves gated on health');
  const finish = (outcome: RolloutOutcome) => {
    report(context, outcome.rollout);
    setExit(outcome.exitCode);
  };
  command
    .command('start')
    .summary('start a rollout: each wave switches some nodes, reboots them and checks them; a failed wave is moved back')
    .description(
      'Checks the version as `promote` does (protected channels take only versions whose boot test passed),\n' +
        'reads every node of the channel (nodes that do not answer are skipped unless --include-down), and\n' +
        'runs the waves. Each wave is one generation switch that serves the new version to its nodes, a\n' +
        "reboot through the site's `rollout.reboot` command, and a health gate: each node must boot the new\n" +
        "version (a verified root for squashfs) and pass the recipe's checks and the site's `rollout.checks`.\n" +
        'A wave with more failures than --max-failures is moved back in one switch, rebooted into the old\n' +
        'version and waited for; the rollout stops and exits 1. The last wave done, the channel serves the\n' +
        'new version. The state is kept in the tree: after a crash, `pxeforge rollout resume` continues.',
    )
    .argument('<image>', 'name@version')
    .requiredOption('--channel <channel>', 'the channel whose nodes move (from pxeforge.yaml)')
    .requiredOption('--waves <steps>', 'nodes (or share of them) on the new version after each wave, e.g. 1,10%,50%,100%')
    .option('--max-failures <n|p%>', 'nodes of a wave that may fail its gate (a number, or a share of the wave)', '0')
    .option('--health-timeout <seconds>', 'per wave: from the reboot until its nodes run the new version and passed their checks')
    .option('--reason <text>', 'why (recorded in the history)')
    .option('--include-down', 'also move nodes that do not answer at the start (the gate waits for them)')
    .option('--force', 'roll out to a protected channel without a matching passing boot test (needs --reason)')
    .option('--allow-dirty', 'roll out to a protected channel a version built from uncommitted recipe changes')
    .option(...waitOption)
    .action(
      async (
        image: string,
        options: {
          channel: string;
          waves: string;
          maxFailures: string;
          healthTimeout?: string;
          reason?: string;
          includeDown?: boolean;
          force?: boolean;
          allowDirty?: boolean;
          wait: string;
        },
      ) => {
        const tools = await rolloutTools(context, options.wait);
        if (!image.includes('@'))
          throw invalidInput('BAD_ARGUMENT', `rollout start takes name@version, not \`${image}\``, 'name the version to roll out');
        finish(
          await startRollout(tools, {
            image,
            channel: options.channel,
            waves: options.waves,
            maxFailures: options.maxFailures,
            healthTimeoutSeconds: options.healthTimeout === undefined ? undefined : seconds(options.healthTimeout),
            reason: checkReason(options.reason),
            includeDown: options.includeDown,
            force: options.force,
            allowDirty: options.allowDirty,
          }),
        );
      },
    );
  command
    .command('status')
    .summary('the latest rollout: its waves, where it is, and whether a controller works on it')
    .action(async () => {
      const tools = await treeTools(context, '0');
      const { rollout, controller } = await rolloutStatus(tools);
      if (context.globals().json) context.io.stdout.write(`${JSON.stringify(rollout ?? null)}\n`);
      else if (rollout === undefined) writeLines(context.io.stdout, ['no rollout has been started in this tree']);
      else report(context, rollout, controller);
      setExit(ExitCode.ok);
    });
  command
    .command('pause')
    .summary('stop before the next wave (the wave in progress finishes its gate)')
    .action(async () => {
      const tools = await treeTools(context, '0');
      const { rollout, requested } = await pauseRollout(tools);
      writeLines(context.io.stdout, [
        requested
          ? `asked the controller of the rollout of ${rollout.image}@${rollout.to} to pause before its next wave`
          : `paused the rollout of ${rollout.image}@${rollout.to}; \`pxeforge rollout resume\` goes on`,
      ]);
      setExit(ExitCode.ok);
    });
  command
    .command('resume')
    .summary('continue a paused, stopped or interrupted rollout from where it is')
    .option(...waitOption)
    .action(async (options: { wait: string }) => {
      finish(await resumeRollout(await rolloutTools(context, options.wait)));
    });
  command
    .command('abort')
    .summary('move every node of the rollout back to the old version (one switch), reboot them and wait for them')
    .option('--reason <text>', 'why (kept in the rollout record)')
    .option(...waitOption)
    .action(async (options: { reason?: string; wait: string }) => {
      const outcome = await abortRollout(await rolloutTools(context, options.wait), checkReason(options.reason));
      if ('requested' in outcome) {
        writeLines(context.io.stdout, [
          `asked the controller of the rollout of ${outcome.rollout.image}@${outcome.rollout.to} to abort: it moves every moved node back`,
        ]);
        setExit(ExitCode.ok);
      } else finish(outcome);
    });
  return command;
}

function seconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw invalidInput('BAD_OPTION', `--health-timeout takes seconds (> 0), got \`${text}\``);
  return value;
}

/** The record as a person reads it: the rollout, each wave, each failure with the node's output; or the record with --json. */
function report(context: CommandContext, rollout: Rollout, controller?: string): void {
  if (context.globals().json) {
    context.io.stdout.write(`${JSON.stringify(rollout)}\n`);
    return;
  }
  const lines = [
    `rollout ${rollout.id}: ${rollout.image} ${rollout.from} -> ${rollout.to} in ${rollout.channel}, waves ${rollout.options.waves}, max failures ${rollout.options.maxFailures}: ${rollout.state}${rollout.aborting ? ' (aborting)' : ''}`,
    ...(controller === undefined
      ? rollout.state === 'running'
        ? [
            '  no controller works on it (it was interrupted): `pxeforge rollout resume` continues, `pxeforge rollout abort` moves its nodes back',
          ]
        : []
      : [`  controller: ${controller}`]),
  ];
  for (const wave of rollout.waves) {
    const took =
      wave.startedAt !== null && wave.endedAt !== null
        ? ` in ${Math.round((Date.parse(wave.endedAt) - Date.parse(wave.startedAt)) / 1000)} s`
        : '';
    lines.push(
      `  wave ${wave.number} (${wave.nodes.length} node(s), may fail ${wave.budget}): ${wave.state}${took}: ${list(wave.nodes.map(nodeName))}`,
    );
    for (const result of wave.results.filter((r) => !r.ok)) {
      lines.push(`    ${nodeName(result)} failed \`${result.check}\`: ${result.reason}`);
      for (const line of (result.output ?? '').split('\n').filter(Boolean).slice(0, 20)) lines.push(`      | ${line}`);
    }
  }
  for (const node of rollout.skipped) lines.push(`  skipped ${nodeName(node)}: ${node.why}`);
  const last = rollout.log.at(-1);
  if (last !== undefined) lines.push(`  last: ${last.at} ${last.message}`);
  // Node output, host names and the record (anyone who can write the tree can write it) are escaped for the terminal.
  writeLines(context.io.stdout, lines.map(printable));
}

function list(names: readonly string[]): string {
  return names.length <= 8 ? names.join(', ') : `${names.slice(0, 8).join(', ')} and ${names.length - 8} more`;
}

/** `status`: the rollout in progress, in a few lines. */
export function rolloutSummary(rollout: Rollout, controller: string | undefined, state: TreeState | undefined): string[] {
  const moved = Object.keys(state?.rollouts?.[rollout.channel]?.[rollout.image]?.nodes ?? {}).length;
  const total = rollout.waves.reduce((sum, wave) => sum + wave.nodes.length, 0);
  const wave = rollout.waves.find((w) => w.state !== 'passed') ?? rollout.waves.at(-1)!;
  return [
    printable(
      `rollout of ${rollout.image} ${rollout.from} -> ${rollout.to} in ${rollout.channel}: ${moved} of ${total} node(s) moved; ${rollout.state}, wave ${wave.number} of ${rollout.waves.length} ${wave.state}${
        controller === undefined
          ? rollout.state === 'running'
            ? ' (no controller: `pxeforge rollout resume`)'
            : ''
          : ` (controller ${controller})`
      }`,
    ),
  ];
}
