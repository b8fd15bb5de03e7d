import { Command } from 'commander';
import path from 'node:path';

import { ExitCode, invalidInput } from '../errors/user-error.js';
import { printable, quoted } from '../errors/quote-text.js';
import { clusterKnownHosts, computeOneNode, nodeVariables, type ComputeNodeFilesOptions } from '../nodes/compute.js';
import { generateHostKey, writeAtomic } from '../nodes/host-keys.js';
import { hostKeyFiles, type NodeFile } from '../nodes/node-file.js';
import { secretsDirProblems } from '../nodes/secrets.js';
import { ValidationError } from '../errors/problems.js';
import { nginxAccessRules } from '../promote/access-rules.js';
import { diffNodeFiles } from '../promote/node-diff.js';
import { readCurrent, treePaths } from '../promote/tree.js';
import type { BuildSettings, SiteTree } from '../site/site-config.js';
import { didYouMean } from '../source/suggest.js';
import { readManifest, versionDir } from '../store/store.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

/**
 * What each node group's channel serves in the current generation of the tree, with the
 * accounts its manifest records: the `served` a preview computes node files with.
 */
export async function currentServed(site: BuildSettings & SiteTree): Promise<ComputeNodeFilesOptions['served']> {
  const current = await readCurrent(treePaths(site.tftpRoot));
  const served = new Map<string, { accounts: ReturnType<ComputeNodeFilesOptions['served']> }>();
  for (const group of site.nodeGroups) {
    const version = current?.state.channels[group.channel]?.[group.image]?.version;
    if (version === undefined) continue;
    const manifest = await readManifest(versionDir(site.store, group.image, version)).catch(() => undefined);
    served.set(group.name, { accounts: { accounts: manifest?.accounts } });
  }
  return (group) => served.get(group)?.accounts ?? { accounts: undefined };
}

function requireNode(site: SiteTree, host: string): void {
  const names = (site.nodeConfig?.nodes ?? []).map((node) => node.host);
  if (!names.includes(host)) {
    throw invalidInput('UNKNOWN_NODE', `no node ${quoted(host)} in \`nodes\` of pxeforge.yaml`, didYouMean(host, names));
  }
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0');

function shownFile(file: NodeFile): Record<string, unknown> {
  const base = {
    path: file.path,
    kind: file.kind,
    uid: file.uid,
    gid: file.gid,
    mode: octal(file.mode),
    source: file.source,
    secret: file.secret,
  };
  if (file.kind === 'directory') return { ...base, explicit: file.explicit === true };
  return file.secret ? { ...base, size: file.content?.length ?? 0 } : { ...base, content: file.content?.toString('utf8') ?? '' };
}

export function nodesCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const command = new Command('nodes').summary(
    "per-node files: preview a node's files, the cluster's known hosts, rotate host keys, what a refresh would change, web server rules",
  );

  command
    .command('show')
    .summary('the merged variables of a node and every file it gets at boot (secrets masked)')
    .argument('<node>', 'host name from `nodes` in pxeforge.yaml')
    .action(async (host: string) => {
      const site = await requireSite(await context.repo(), ['build', 'tree']);
      requireNode(site, host);
      const variables = nodeVariables(site, host)!;
      const { files, missingKey } = await computeOneNode(site, host, { served: await currentServed(site), generateHostKeys: false });
      const shown = (files?.files ?? []).map(shownFile);
      if (context.globals().json) {
        context.io.stdout.write(
          `${JSON.stringify({ host, group: files?.group ?? null, variables, files: shown, hostKeyPending: missingKey })}\n`,
        );
        setExit(ExitCode.ok);
        return;
      }
      const lines = [
        printable(
          `node ${host}${files === undefined ? ' (no node files: its group has none, or serves nothing yet)' : ` (node group ${files.group})`}`,
        ),
        'variables:',
      ];
      for (const [name, variable] of Object.entries(variables)) {
        lines.push(printable(`  ${name} = ${JSON.stringify(variable.value)}   (${variable.from})`));
      }
      lines.push('files:');
      for (const file of files?.files ?? []) {
        const head = `  ${file.path}  ${file.uid}:${file.gid}  ${octal(file.mode)}  ${file.kind}  from ${file.source}`;
        lines.push(printable(head));
        if (file.kind === 'file') {
          if (file.secret) lines.push(`    <secret: ${file.content?.length ?? 0} bytes>`);
          else
            for (const line of (file.content?.toString('utf8') ?? '').replace(/\n$/, '').split('\n'))
              lines.push(`    | ${printable(line)}`);
        }
      }
      if (missingKey)
        lines.push('  (its managed SSH host key does not exist yet: made at the next `pxeforge refresh` or `pxeforge nodes known-hosts`)');
      writeLines(context.io.stdout, lines);
      setExit(ExitCode.ok);
    });

  command
    .command('known-hosts')
    .summary("the cluster's ssh_known_hosts (makes the managed host keys nodes lack)")
    .option('-o, --output <file>', 'write it to this file (atomically) instead of standard output')
    .action(async (options: { output?: string }) => {
      const site = await requireSite(await context.repo(), ['build', 'tree']);
      const problems = await secretsDirProblems(site, site.nodeConfig!.secretsAt, 'create');
      if (problems.length > 0) throw new ValidationError(problems);
      const text = await clusterKnownHosts(site, true);
      if (options.output === undefined) context.io.stdout.write(text);
      else await writeAtomic(path.resolve(context.io.cwd, options.output), text, 0o644);
      setExit(ExitCode.ok);
    });

  command
    .command('rekey')
    .summary("replace nodes' managed SSH host keys (they get the new ones at the next refresh or promote)")
    .argument('<nodes...>', 'host names of nodes in `hostKeys: managed` groups')
    .action(async (hosts: string[]) => {
      const site = await requireSite(await context.repo(), ['build', 'tree']);
      for (const host of hosts) requireNode(site, host);
      const managed = new Set(
        site.nodeGroups.filter((group) => group.hostKeys === 'managed').flatMap((group) => group.members.map((member) => member.host)),
      );
      const unmanaged = hosts.filter((host) => !managed.has(host));
      if (unmanaged.length > 0) {
        throw invalidInput(
          'BAD_ARGUMENT',
          `${unmanaged.map((host) => quoted(host)).join(', ')} in no node group with \`hostKeys: managed\``,
          'set `hostKeys: managed` on the node group first',
        );
      }
      const problems = await secretsDirProblems(site, site.nodeConfig!.secretsAt, 'create');
      if (problems.length > 0) throw new ValidationError(problems);
      const lines: string[] = [];
      for (const host of hosts) {
        const key = await generateHostKey(site.secretsDir, host);
        const fingerprint = key.public.split(/\s+/)[1]?.slice(-16) ?? '';
        lines.push(printable(`${host}: new host key (…${fingerprint}) in ${hostKeyFiles(site.secretsDir, host).public}`));
      }
      lines.push(
        'the nodes get their new keys at the next `pxeforge refresh` (or promote); run `pxeforge nodes known-hosts` for the new known hosts',
      );
      writeLines(context.io.stdout, lines);
      setExit(ExitCode.ok);
    });
  command.addCommand(nodesDiffCommand(context, setExit));
  command.addCommand(nodesAccessRulesCommand(context, setExit));
  return command;
}

/** `pxeforge nodes access-rules --nginx`: web server rules that serve each node archive of the current generation only to its node. */
export function nodesAccessRulesCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('access-rules')
    .summary("web server rules that serve each node's archive only to its address (current generation)")
    .option('--nginx', 'nginx `location` rules (the one format so far)')
    .action(async (options: { nginx?: boolean }) => {
      if (options.nginx !== true) throw invalidInput('BAD_OPTION', 'name the web server: --nginx');
      const site = await requireSite(await context.repo(), ['tree']);
      const current = await readCurrent(treePaths(site.tftpRoot));
      if (current === undefined) throw invalidInput('NOT_PROMOTED', 'nothing has been promoted to the PXE tree yet: no node archives');
      const addresses = new Map((site.nodeConfig?.nodes ?? []).map((node) => [node.host, node.ip]));
      const prefix = site.httpBaseUrl === undefined ? '' : new URL(site.httpBaseUrl).pathname;
      const { text, withoutAddress } = nginxAccessRules(
        Object.values(current.state.nodes ?? {}).map((node) => ({ ...node, ip: addresses.get(node.host) })),
        { generation: current.generation, prefix },
      );
      if (withoutAddress.length > 0)
        context.io.stderr.write(
          `${printable(`warning: no \`ip\` in pxeforge.yaml for ${withoutAddress.join(', ')}: the rules give their archives to nobody over HTTP`)}\n`,
        );
      context.io.stdout.write(text);
      setExit(ExitCode.ok);
    });
}

/** `pxeforge nodes diff`: which nodes' files a refresh would change now (paths only, never content). */
export function nodesDiffCommand(context: CommandContext, setExit: (code: number) => void): Command {
  return new Command('diff').summary("which nodes' files a refresh would change, compared with the current generation").action(async () => {
    const site = await requireSite(await context.repo(), ['tree']);
    const diff = await diffNodeFiles(site, treePaths(site.tftpRoot), { signal: context.io.signal });
    if (context.globals().json) {
      context.io.stdout.write(`${JSON.stringify(diff)}\n`);
      setExit(ExitCode.ok);
      return;
    }
    const lines: string[] = [];
    for (const change of diff.changes) {
      const key = change.newHostKey ? ' (new host key)' : '';
      const what =
        change.change === 'changed' ? `changed: ${change.paths.join(', ')}` : `${change.change} (${change.paths.length} path(s))`;
      lines.push(printable(`${change.host} ${change.mac}${change.group === '' ? '' : ` [${change.group}]`}: ${what}${key}`));
    }
    lines.push(
      diff.changes.length === 0
        ? `no node changes (generation ${diff.generation ?? '-'}, ${diff.unchanged} node(s) unchanged)`
        : `${diff.changes.length} node(s) would change, ${diff.unchanged} unchanged, compared with generation ${diff.generation}`,
    );
    writeLines(context.io.stdout, lines);
    setExit(ExitCode.ok);
  });
}
