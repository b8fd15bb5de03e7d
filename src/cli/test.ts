import { Command } from 'commander';

import type { TreeBoot } from '../boot-test/boot-test.js';
import type { TestReport } from '../boot-test/report.js';
import { ExitCode, invalidInput, isUserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { eachLimited } from '../progress/each-limited.js';
import { namedEmit } from '../progress/reporter.js';
import { chooseReporter, createReporter } from '../progress/choose-reporter.js';
import { seconds } from '../progress/plain-reporter.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';
import { treeBootFor } from '../promote/tree-boot.js';
import { executorKind } from '../executors/registry.js';
import { parseImageRef } from '../store/image-ref.js';

export function testCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('test')
    .summary('boot image versions in QEMU and run their checks over SSH')
    .description(
      'Boots the exact artifacts of each image version (name@version, or name for the latest) in QEMU\n' +
        '(KVM when /dev/kvm exists, TCG otherwise) with a fresh SSH key injected as a systemd credential,\n' +
        "then runs the built-in checks and the recipe's checks. Writes test-report.json, junit.xml and\n" +
        'console.log into the version directory. Exit code 1 when any boot or check fails.',
    )
    .argument('<images...>', 'name@version or name')
    .option('--via <path>', 'direct (kernel and initrd handed to QEMU) or pxe (iPXE from the NIC over TFTP/HTTP)', 'direct')
    .option('--parallel <n>', 'boot up to n VMs at once', '1')
    .option('--channel <channel>', 'with --via pxe: boot from the promoted PXE tree as a node of a group following this channel')
    .option(
      '--entry <file>',
      "with --channel: what the node's firmware loads from the TFTP root (boot.ipxe; the site's pxelinux.0; its GRUB net image, e.g. grub/x86_64-efi/core.efi, booted with UEFI)",
      'boot.ipxe',
    )
    .option('--group <name>', 'with --channel: boot as a member of this node group')
    .option(
      '--node <host>',
      "with --channel: boot as this node (its MAC, its files; with managed host keys it must present its own key); default: the group's first member",
    )
    .option('--executor <executor>', 'where QEMU runs: local (this host) or kubernetes (a pod, with KVM when configured)', 'local')
    .action(
      async (
        images: string[],
        options: { via: string; parallel: string; channel?: string; entry: string; group?: string; node?: string; executor: string },
      ) => {
        if (options.via !== 'direct' && options.via !== 'pxe')
          throw invalidInput('BAD_OPTION', `--via takes direct or pxe, got \`${options.via}\``);
        const parallel = Number(options.parallel);
        if (!Number.isInteger(parallel) || parallel < 1)
          throw invalidInput('BAD_OPTION', `--parallel takes a whole number ≥ 1, got \`${options.parallel}\``);
        const kind = executorKind(options.executor);
        if (!kind.local && options.channel !== undefined)
          throw invalidInput('BAD_OPTION', '--channel boots from the PXE tree on this host: use --executor local');
        if (options.channel !== undefined && options.via !== 'pxe')
          throw invalidInput('BAD_OPTION', '--channel boots from the PXE tree: it needs --via pxe');
        if (options.node !== undefined && options.channel === undefined)
          throw invalidInput('BAD_OPTION', '--node boots as a node of the PXE tree: it needs --via pxe --channel <channel>');
        // Every reference is checked before anything starts: a bad one is a usage error (exit 2).
        for (const image of images) parseImageRef(image);
        const { io } = context;
        const repo = await context.repo();
        // The tree only to boot from it (--channel), and then its node groups must name recipes.
        const fromTree = options.channel !== undefined;
        const site = await requireSite(repo, ['build', ...kind.siteParts, ...(fromTree ? (['tree'] as const) : [])], {
          checkImages: fromTree,
        });
        // Booting from the tree: every image must be what its channel serves, checked before any VM starts.
        const trees = new Map<string, TreeBoot>();
        if (options.channel !== undefined) {
          for (const image of images)
            trees.set(
              image,
              (await treeBootFor(site, image, { channel: options.channel, entry: options.entry, group: options.group, node: options.node }))
                .tree,
            );
        }
        const executor = await kind.create({ repo, site, useCache: true, signal: io.signal, output: io.stdout });
        const json = context.globals().json === true;
        const several = images.length > 1;
        const reporter = createReporter(several && !json ? 'plain' : chooseReporter({ json, stream: io.stdout }), io.stdout);
        const outcomes: { image: string; report?: TestReport; error?: unknown }[] = [];
        const testOne = async (image: string) => {
          // With several images, each event's stage names its image.
          const emit: Emit = several ? namedEmit(reporter.onEvent, image) : reporter.onEvent;
          try {
            const tree = trees.get(image);
            const via = options.via as 'direct' | 'pxe';
            const report = await executor.test(image, { via, tree }, emit);
            outcomes.push({ image, report });
          } catch (error) {
            if (!isUserError(error) || error.exitCode === ExitCode.interrupted) throw error;
            outcomes.push({ image, error });
          }
        };
        try {
          await eachLimited(images, parallel, testOne);
        } finally {
          await reporter.close();
        }
        const lines = outcomes.map(({ image, report, error }) => {
          if (report === undefined) return `${image}: ERROR ${(error as Error).message.split('\n')[0]}`;
          const failed = report.checks.filter((check) => !check.passed);
          const verdict = report.passed ? 'PASSED' : 'FAILED';
          const why = report.failure
            ? `: ${report.failure.reason} (stuck in ${report.failure.phase})`
            : failed.length > 0
              ? `: ${failed.map((c) => `${c.name} — ${c.reason}`).join('; ')}`
              : '';
          const via =
            report.tree === undefined
              ? report.via
              : `${report.via} (${report.tree.entry} from the ${report.tree.channel} tree, generation ${report.tree.generation}, as ${report.tree.node === undefined ? '' : `${report.tree.node} of `}${report.tree.group} ${report.tree.mac})`;
          return `${report.name}@${report.version} via ${via}: ${verdict} in ${seconds(report.durationMs)} (${report.checks.filter((c) => c.passed).length}/${report.checks.length} checks)${why}`;
        });
        if (json)
          io.stdout.write(
            `${JSON.stringify({ type: 'result', results: outcomes.map((o) => o.report ?? { image: o.image, error: (o.error as Error).message }) })}\n`,
          );
        else writeLines(io.stdout, lines);
        for (const { report } of outcomes) {
          if (report?.failure !== undefined && !json)
            writeLines(io.stderr, [
              `${report.name}@${report.version}: last console lines:`,
              ...report.failure.consoleTail.map((line) => `  | ${line}`),
            ]);
        }
        setExit(outcomes.every((o) => o.report?.passed === true) ? ExitCode.ok : ExitCode.failure);
      },
    );
}
