import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

import { changedNodePaths, packNodeArchive, readNodeArchive } from '../nodes/archive.js';
import { computeNodeFiles } from '../nodes/compute.js';
import { hostKeyName } from '../nodes/node-file.js';
import type { SiteTree } from '../site/site-config.js';
import { readVersionInfos } from './apply.js';
import { groupVersions, isNodeArchivePath, nodeArchivePath, servedAccounts } from './node-archives.js';
import { readCurrent, type TreePaths } from './tree.js';

export interface NodeChange {
  host: string;
  mac: string;
  /** The node group (empty for a node the site config no longer has). */
  group: string;
  change: 'added' | 'removed' | 'changed';
  /** Node paths added, removed or changed (never their content: some are secrets). */
  paths: string[];
  /** A node of a `hostKeys: managed` group with no key yet: the next promote or refresh makes one. */
  newHostKey: boolean;
}

export interface NodeDiff {
  generation: number | undefined;
  changes: NodeChange[];
  unchanged: number;
}

/**
 * `pxeforge nodes diff`: which nodes' files a `refresh` now would change, compared with the
 * current generation's archives (read back with the archive reader). Nothing is written: host
 * keys are not made (a node without its managed key shows as "new host key").
 */
export async function diffNodeFiles(site: SiteTree, paths: TreePaths, options: { signal?: AbortSignal } = {}): Promise<NodeDiff> {
  const current = await readCurrent(paths);
  if (current === undefined) return { generation: undefined, changes: [], unchanged: 0 };
  const { channels } = current.state;
  const versions = await readVersionInfos(paths, channels, undefined);
  const servedBy = groupVersions(site, channels, versions);
  const managed = new Set(site.nodeGroups.filter((group) => group.hostKeys === 'managed').map((group) => group.name));
  const nodes = await computeNodeFiles(site, {
    served: (name) => servedAccounts(servedBy(name)),
    generateHostKeys: false,
    signal: options.signal,
  });
  const recorded = current.state.nodes ?? {};
  const changes: NodeChange[] = [];
  let unchanged = 0;
  const seen = new Set<string>();
  for (const node of nodes) {
    if (node.files.length === 0) continue;
    seen.add(node.mac);
    const newHostKey = managed.has(node.group) && !node.files.some((file) => path.posix.basename(file.path) === hostKeyName);
    const packed = packNodeArchive(node);
    const before = recorded[node.mac];
    const base = { host: node.host, mac: node.mac, group: node.group, newHostKey };
    if (before === undefined) {
      changes.push({ ...base, change: 'added', paths: node.files.map((file) => file.path) });
      continue;
    }
    if (before.archive === nodeArchivePath(packed.sha256) && !newHostKey) {
      unchanged += 1;
      continue;
    }
    const old = readNodeArchive(await readTreeArchive(paths, before.archive));
    const changed = changedNodePaths(old, readNodeArchive(packed.bytes));
    if (changed.length === 0 && !newHostKey) unchanged += 1;
    else changes.push({ ...base, change: 'changed', paths: changed });
  }
  const groupOf = new Map(site.nodeGroups.flatMap((group) => group.members.map((member) => [member.mac, group.name] as const)));
  for (const [mac, node] of Object.entries(recorded)) {
    if (seen.has(mac)) continue;
    const files = readNodeArchive(await readTreeArchive(paths, node.archive));
    changes.push({ host: node.host, mac, group: groupOf.get(mac) ?? '', change: 'removed', paths: [...files.keys()], newHostKey: false });
  }
  changes.sort((a, b) => a.host.localeCompare(b.host) || a.mac.localeCompare(b.mac));
  return { generation: current.generation, changes, unchanged };
}

/** A recorded archive's bytes; the file is opened without following a link (the tree's archives are regular files). */
async function readTreeArchive(paths: TreePaths, archive: string): Promise<Buffer> {
  if (!isNodeArchivePath(archive)) throw new Error(`the current generation records ${archive} as a node archive`);
  const handle = await open(path.join(paths.root, archive), constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
