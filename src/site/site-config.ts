import { access } from 'node:fs/promises';
import path from 'node:path';

import { formatPath } from '../errors/format-path.js';
import type { Problem } from '../errors/problems.js';
import { invalidInput } from '../errors/user-error.js';
import { quoted } from '../errors/quote-text.js';
import type { RecipeRepo } from '../recipe/repo.js';
import { loadRepoYaml } from '../recipe/repo-file.js';
import { didYouMean } from '../source/suggest.js';
import { checkSchema } from '../source/zod-problems.js';
import type { YamlDocument } from '../source/yaml-document.js';
import { expandHostlist } from './hostlist.js';
import { siteConfigSchema, type KubernetesConfig, type SiteConfigFile } from './schema.js';

export const siteConfigName = 'pxeforge.yaml';

export interface NodeGroup {
  name: string;
  image: string;
  channel: string;
  /** Members with their MAC (lowercase, colon-separated) and host name when known. */
  members: { mac: string; host: string | undefined }[];
  kernelArgs: string;
  firmware: 'bios' | 'uefi';
  arch: 'amd64' | 'arm64';
}

export interface SiteConfig {
  file: string;
  store: string;
  cache: string;
  tftpRoot: string;
  httpBaseUrl: string | undefined;
  mirror: string;
  channels: Record<string, { protected: boolean; description: string | undefined }>;
  nodeGroups: NodeGroup[];
  unknownNodes: { action: 'localboot' | 'menu' | 'group'; group: string | undefined };
  kubernetes: KubernetesConfig | undefined;
}

/** The repository root: the nearest directory at or above `start` that holds pxeforge.yaml. */
export async function findRepoRoot(start: string): Promise<string> {
  let dir = path.resolve(start);
  for (;;) {
    if (
      await access(path.join(dir, siteConfigName)).then(
        () => true,
        () => false,
      )
    )
      return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw invalidInput(
        'NO_SITE_CONFIG',
        `no ${siteConfigName} in ${path.resolve(start)} or any parent directory`,
        `run pxeforge inside a recipe repository, or pass --repo <dir>`,
      );
    }
    dir = parent;
  }
}

/** Loads and checks pxeforge.yaml; `recipeNames` are the images node groups may name. */
export async function loadSiteConfig(
  repo: RecipeRepo,
  recipeNames: readonly string[],
): Promise<{ site?: SiteConfig; problems: Problem[] }> {
  const loaded = await loadRepoYaml(repo, path.join(repo.root, siteConfigName));
  if (!loaded.ok) return { problems: loaded.problems };
  const data = loaded.document.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    return {
      problems: [{ file: siteConfigName, line: 1, column: 1, path: '', message: 'expected a mapping of settings at the top of the file' }],
    };
  }
  const checked = checkSchema(siteConfigSchema, { ...loaded.document, data });
  if (!checked.ok) return { problems: checked.problems };
  return resolveSiteConfig(repo, checked.value, loaded.document, recipeNames);
}

function resolveSiteConfig(
  repo: RecipeRepo,
  config: SiteConfigFile,
  document: YamlDocument,
  recipeNames: readonly string[],
): { site?: SiteConfig; problems: Problem[] } {
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
  const table = new Map(Object.entries(config.nodes ?? {}).map(([host, mac]) => [host, normalizeMac(mac)]));
  const owner = new Map<string, string>();
  const nodeGroups: NodeGroup[] = [];

  for (const [name, group] of Object.entries(config.nodeGroups ?? {})) {
    const at = (...rest: PropertyKey[]) => ['nodeGroups', name, ...rest];
    if (!recipeNames.includes(group.image)) {
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
    nodeGroups.push({
      name,
      image: group.image,
      channel: group.channel,
      members,
      kernelArgs: group.kernelArgs ?? '',
      firmware: group.firmware ?? 'bios',
      arch: group.arch ?? 'amd64',
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
  if (problems.length > 0) return { problems };
  return {
    problems,
    site: {
      file: path.join(repo.root, siteConfigName),
      store: path.resolve(repo.root, config.store ?? 'var/store'),
      cache: path.resolve(repo.root, config.cache ?? 'var/cache'),
      tftpRoot: path.resolve(repo.root, config.tftpRoot ?? 'var/tftp'),
      httpBaseUrl: config.httpBaseUrl,
      mirror: config.mirror ?? 'host',
      channels,
      nodeGroups,
      unknownNodes,
      kubernetes: config.kubernetes,
    },
  };
}

export function normalizeMac(mac: string): string {
  return mac.toLowerCase().replaceAll('-', ':');
}
