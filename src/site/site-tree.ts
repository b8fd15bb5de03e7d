import path from 'node:path';

import { type ArchName, defaultArch, getArch } from '../arches/registry.js';
import type { Firmware } from '../boot-loaders/boot-loader.js';
import { formatPath } from '../errors/format-path.js';
import type { Problem } from '../errors/problems.js';
import { quoted } from '../errors/quote-text.js';
import { didYouMean } from '../source/suggest.js';
import type { YamlDocument } from '../source/yaml-document.js';
import { expandHostlist } from './hostlist.js';
import { resolveNodeConfig, type SiteNodeConfig } from './node-config.js';
import { resolveNodeTable } from './node-table.js';
import { type RolloutSettings, resolveRolloutSettings } from './rollout-settings.js';
import type { SiteConfigFile } from './schema.js';

export type { RolloutSettings } from './rollout-settings.js';

export interface NodeGroup {
  name: string;
  image: string;
  channel: string;
  /** Members with their MAC (lowercase, colon-separated) and host name when known. */
  members: { mac: string; host: string | undefined }[];
  kernelArgs: string;
  firmware: Firmware;
  arch: ArchName;
  /** `managed`: each member gets its own SSH host key from the secrets directory at every boot. */
  hostKeys: 'managed' | 'boot';
}

/** The PXE tree: where it is, how nodes reach it, its channels, node groups and what unknown nodes boot. */
export interface SiteTree {
  file: string;
  tftpRoot: string;
  /** The secrets directory (site secrets, managed host keys), absolute. */
  secretsDir: string;
  httpBaseUrl: string | undefined;
  channels: Record<string, { protected: boolean; description: string | undefined }>;
  nodeGroups: NodeGroup[];
  unknownNodes: { action: 'localboot' | 'menu' | 'group'; group: string | undefined };
  /** Node variables, node file sets and secrets of the node groups (absent: none). */
  nodeConfig?: SiteNodeConfig;
  /** How `fleet status` reaches the nodes. */
  fleet?: FleetSettings;
  /** How `rollout` reboots nodes and judges their health. */
  rollout?: RolloutSettings;
}

export interface FleetSettings {
  user: string;
  /** Absolute; undefined when not set (then `fleet status` refuses to run). */
  identityFile: string | undefined;
  port: number;
  /** Absolute, when set. */
  knownHosts: string | undefined;
  parallel: number;
  timeoutMs: number;
}

/**
 * The tree of a schema-checked site config, with every problem located. `recipeNames` are the
 * images node groups may name; without them (commands that only read the tree) names are not checked.
 */
export function resolveSiteTree(
  root: string,
  file: string,
  config: SiteConfigFile,
  document: YamlDocument,
  recipeNames: readonly string[] | undefined,
): { tree?: SiteTree; problems: Problem[] } {
  const problems: Problem[] = [];
  const report = (fieldPath: PropertyKey[], message: string, hint?: string) =>
    problems.push({ file: document.file, ...document.locate(fieldPath), path: formatPath(fieldPath), message, hint });

  const channels = Object.fromEntries(
    Object.entries(config.channels ?? { staging: {}, production: { protected: true } }).map(([name, channel]) => [
      name,
      { protected: channel.protected ?? false, description: channel.description },
    ]),
  );
  const channelNames = Object.keys(channels);
  const groupNames = Object.keys(config.nodeGroups ?? {});
  const nodeTable = resolveNodeTable(config, report);
  const table = new Map([...nodeTable].map(([host, node]) => [host, node.mac]));
  const owner = new Map<string, string>();
  const nodeGroups: NodeGroup[] = [];

  for (const [name, group] of Object.entries(config.nodeGroups ?? {})) {
    const at = (...rest: PropertyKey[]) => ['nodeGroups', name, ...rest];
    if (recipeNames !== undefined && !recipeNames.includes(group.image)) {
      report(at('image'), `no recipe named ${quoted(group.image)}`, didYouMean(group.image, recipeNames));
    }
    if (!channelNames.includes(group.channel)) {
      report(
        at('channel'),
        `no channel ${quoted(group.channel)} in \`channels\``,
        didYouMean(group.channel, channelNames) ?? `channels: ${channelNames.join(', ')}`,
      );
    }
    const members: NodeGroup['members'] = (group.macs ?? []).map((mac) => ({ mac: normalizeMac(mac), host: undefined }));
    for (const [index, pattern] of (group.hosts ?? []).entries()) {
      let hosts: string[];
      try {
        hosts = expandHostlist(pattern);
      } catch (error) {
        report(at('hosts', index), (error as Error).message);
        continue;
      }
      const missing = hosts.filter((host) => !table.has(host));
      if (missing.length > 0) {
        report(
          at('hosts', index),
          `${missing.length} host(s) have no MAC in \`nodes\`: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`,
          'add `<host>: <mac>` lines to the `nodes` table',
        );
      }
      members.push(...hosts.filter((host) => table.has(host)).map((host) => ({ mac: table.get(host)!, host })));
    }
    for (const member of members) {
      const previous = owner.get(member.mac);
      if (previous !== undefined && previous !== name) {
        report(
          at(),
          `MAC ${member.mac}${member.host === undefined ? '' : ` (${member.host})`} is also in node group ${quoted(previous)}`,
          'a node boots exactly one image: keep each MAC in one group',
        );
      }
      owner.set(member.mac, name);
    }
    const arch = group.arch ?? defaultArch;
    const hasBios = getArch(arch).bios;
    if (group.firmware === 'bios' && !hasBios) {
      report(at('firmware'), `${arch} nodes have no BIOS`, 'set `firmware: uefi` (the default for this architecture), or remove the line');
    }
    nodeGroups.push({
      name,
      image: group.image,
      channel: group.channel,
      members,
      kernelArgs: group.kernelArgs ?? '',
      firmware: group.firmware ?? (hasBios ? 'bios' : 'uefi'),
      arch,
      hostKeys: group.hostKeys ?? 'boot',
    });
  }

  const unknownNodes = { action: config.unknownNodes?.action ?? 'localboot', group: config.unknownNodes?.group } as const;
  if (unknownNodes.action === 'group' && (unknownNodes.group === undefined || !groupNames.includes(unknownNodes.group))) {
    report(
      ['unknownNodes', 'group'],
      unknownNodes.group === undefined ? '`action: group` needs `group: <node group>`' : `no node group ${quoted(unknownNodes.group)}`,
      unknownNodes.group === undefined ? undefined : didYouMean(unknownNodes.group, groupNames),
    );
  }
  const nodeConfig = resolveNodeConfig(root, config, nodeTable, report, (fieldPath) => ({
    file: document.file,
    ...document.locate(fieldPath),
    path: formatPath(fieldPath),
  }));
  const rollout = resolveRolloutSettings(config, report);
  if (problems.length > 0) return { problems };
  return {
    problems,
    tree: {
      file,
      tftpRoot: path.resolve(root, config.tftpRoot ?? 'var/tftp'),
      secretsDir: path.resolve(root, config.secrets ?? 'var/secrets'),
      httpBaseUrl: config.httpBaseUrl,
      channels,
      nodeGroups,
      unknownNodes,
      nodeConfig,
      fleet: {
        user: config.fleet?.ssh?.user ?? 'root',
        identityFile: config.fleet?.ssh?.identityFile === undefined ? undefined : path.resolve(root, config.fleet.ssh.identityFile),
        port: config.fleet?.ssh?.port ?? 22,
        knownHosts: config.fleet?.ssh?.knownHosts === undefined ? undefined : path.resolve(root, config.fleet.ssh.knownHosts),
        parallel: config.fleet?.parallel ?? 64,
        timeoutMs: Math.round((config.fleet?.timeoutSeconds ?? 10) * 1000),
      },
      rollout,
    },
  };
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replaceAll('-', ':');
}
