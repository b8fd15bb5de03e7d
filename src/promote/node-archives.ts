import { constants } from 'node:fs';
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { ExitCode, UserError } from '../errors/user-error.js';
import { checkFile } from '../integrity/verify.js';
import { packNodeArchive } from '../nodes/archive.js';
import { computeNodeFiles } from '../nodes/compute.js';
import { nodeArchiveDir, nodeArchiveExtension, type NodeFiles } from '../nodes/node-file.js';
import { eachLimited } from '../progress/each-limited.js';
import type { SiteTree } from '../site/site-config.js';
import { type NodeArchiveRef, type VersionInfo, versionKey } from './render.js';
import { treeDirName, type TreePaths, type TreeState } from './tree.js';

/** How many archives are checked or written at once (10,000 nodes). */
const concurrency = 64;

/** Node archives are read by tftpd and the web server, like the configs. */
export const nodeArchiveMode = 0o644;

/** Tree-relative path of an archive: `pxeforge/nodes/<sha256>.cpio`. */
export function nodeArchivePath(sha256: string): string {
  return `${treeDirName}/${nodeArchiveDir}/${sha256}${nodeArchiveExtension}`;
}

/** Whether a tree-relative path is a node archive's. */
export function isNodeArchivePath(treePath: string): boolean {
  return /^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/.test(treePath);
}

export interface NodeArchivePlan {
  /** Every member with node files, by MAC. */
  refs: Map<string, NodeArchiveRef>;
  /** Packed archives by sha256, to be in the tree before the generation is switched to. */
  packed: Map<string, Buffer>;
}

/**
 * The archives of a new generation: reused ones (a rollback restores the archives of the
 * generation it goes back to, checked to exist with their digests) and the others packed from
 * `computeNodeFiles` on the site config as it is now. Nothing is written: a problem with the
 * node files (computeNodeFiles throws) stops the change before anything reaches the tree.
 */
export async function planNodeArchives(
  site: SiteTree,
  paths: TreePaths,
  channels: TreeState['channels'],
  versions: ReadonlyMap<string, VersionInfo>,
  options: { signal?: AbortSignal; reuse?: ReadonlyMap<string, NodeArchiveRef | null> },
): Promise<NodeArchivePlan> {
  const refs = new Map<string, NodeArchiveRef>();
  const packed = new Map<string, Buffer>();
  const servedGroups = site.nodeGroups.filter((group) => channels[group.channel]?.[group.image] !== undefined);
  const reuse = options.reuse ?? new Map<string, NodeArchiveRef | null>();
  const members = servedGroups.flatMap((group) => group.members.map((member) => member.mac));
  const reused = members.filter((mac) => reuse.has(mac));
  await eachLimited(reused, concurrency, async (mac) => {
    const ref = reuse.get(mac);
    if (ref === null || ref === undefined) return; // kept without node files
    const found = await checkFile(path.join(paths.root, ref.archive), ref.sha256);
    if (found !== 'ok') {
      throw new UserError(
        'NODE_ARCHIVE_MISSING',
        `${ref.archive} (the node files of ${ref.host} to restore) ${found === 'missing' ? 'is missing' : 'does not match its recorded sha256'}`,
        {
          hint: 'nothing was changed. Node archives are removed only by `pxeforge gc` for generations it removes; `pxeforge refresh` makes every node archive again from pxeforge.yaml',
        },
      );
    }
    refs.set(mac, ref);
  });
  if (reused.length === members.length) return { refs, packed };

  const servedBy = groupVersions(site, channels, versions);
  const nodes = await computeNodeFiles(site, {
    served: (name) => servedAccounts(servedBy(name)),
    generateHostKeys: true,
    signal: options.signal,
  });
  refuseImagesWithoutNodeFiles(
    nodes.filter((node) => !reuse.has(node.mac) && node.files.length > 0),
    (name) => servedBy(name)!,
  );
  for (const node of nodes) {
    if (reuse.has(node.mac) || node.files.length === 0) continue;
    const archive = packNodeArchive(node);
    packed.set(archive.sha256, archive.bytes);
    refs.set(node.mac, { host: node.host, archive: nodeArchivePath(archive.sha256), sha256: archive.sha256, size: archive.size });
  }
  return { refs, packed };
}

/** What each node group boots in `channels`: the version (`image@version`) and what the tree knows of it; undefined when its channel serves nothing. */
export function groupVersions(
  site: SiteTree,
  channels: TreeState['channels'],
  versions: ReadonlyMap<string, VersionInfo>,
): (group: string) => { reference: string; info: VersionInfo | undefined } | undefined {
  const byName = new Map(site.nodeGroups.map((group) => [group.name, group]));
  return (name) => {
    const group = byName.get(name);
    const served = group === undefined ? undefined : channels[group.channel]?.[group.image];
    if (group === undefined || served === undefined) return undefined;
    const reference = versionKey(group.image, served.version);
    return { reference, info: versions.get(reference) };
  };
}

/** computeNodeFiles' view of a group's version: its accounts (undefined: the group serves nothing). */
export function servedAccounts(served: { info: VersionInfo | undefined } | undefined): { accounts: VersionInfo['accounts'] } | undefined {
  return served === undefined ? undefined : { accounts: served.info?.accounts };
}

/**
 * An image built before images applied node files would boot without them (and a whole-root
 * initramfs would keep the staged files, secrets included, in RAM): a node group with node
 * files must boot an image whose manifest records the apply program.
 */
function refuseImagesWithoutNodeFiles(
  nodes: readonly NodeFiles[],
  servedBy: (group: string) => { reference: string; info: VersionInfo | undefined },
): void {
  const stale = new Map<string, string>();
  for (const node of nodes) {
    if (stale.has(node.group)) continue;
    const { reference, info } = servedBy(node.group);
    if (info?.appliesNodeFiles !== true) stale.set(node.group, reference);
  }
  if (stale.size === 0) return;
  const lines = [...stale].map(([group, reference]) => `  node group ${group}: ${reference}`);
  throw new UserError(
    'IMAGE_WITHOUT_NODE_FILES',
    `these node groups have node files, but the image they would boot was built before images applied node files at boot:\n${lines.join('\n')}`,
    {
      hint: 'nothing was changed. Rebuild the image (`pxeforge build`) and promote the new version, or take the node files off the group',
      exitCode: ExitCode.invalidInput,
    },
  );
}

/**
 * Puts packed archives into `pxeforge/nodes/`, under the tree lock. Content-addressed: an
 * archive whose name is there with its size is not written again (no write at all; `verify`
 * checks digests). A new one is written under a temporary name and renamed; the generation's
 * syncfs flushes them before the switch.
 */
export async function writeNodeArchives(paths: TreePaths, packed: ReadonlyMap<string, Buffer>): Promise<{ written: number; kept: number }> {
  let written = 0;
  let kept = 0;
  if (packed.size === 0) return { written, kept };
  await mkdir(paths.nodes, { recursive: true });
  await eachLimited([...packed], concurrency, async ([sha, bytes]) => {
    const final = path.join(paths.nodes, `${sha}${nodeArchiveExtension}`);
    const info = await lstat(final).catch(() => undefined);
    if (info?.isFile() && info.size === bytes.length) {
      kept += 1;
      return;
    }
    const staged = path.join(paths.nodes, `.tmp-${sha}-${process.pid}`);
    // O_EXCL | O_NOFOLLOW: never written through anything already there.
    await rm(staged, { force: true });
    const handle = await open(staged, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, nodeArchiveMode);
    try {
      await handle.chmod(nodeArchiveMode); // whatever the umask
      await handle.write(bytes);
    } finally {
      await handle.close();
    }
    await rename(staged, final);
    written += 1;
  });
  return { written, kept };
}

/**
 * Node archives a rollback restores, by MAC: members of the node groups that follow the rolled
 * back image in that channel get exactly what the newest earlier generation serving that
 * version recorded (no archive where it had none); the other members keep what the current
 * generation has. Members neither records (new since) get archives made from pxeforge.yaml.
 * Undefined `back` (that generation was removed by gc): the affected members' archives are made
 * from pxeforge.yaml too.
 */
export function rollbackNodeArchives(
  site: SiteTree,
  channel: string,
  image: string,
  current: TreeState,
  back: TreeState | undefined,
): Map<string, NodeArchiveRef | null> {
  const now = recordedNodeArchives(current);
  const then = back === undefined ? undefined : recordedNodeArchives(back);
  const reuse = new Map<string, NodeArchiveRef | null>();
  for (const group of site.nodeGroups) {
    const affected = group.channel === channel && group.image === image;
    for (const { mac } of group.members) {
      if (affected && then !== undefined) reuse.set(mac, then.get(mac) ?? null);
      else if (!affected && now.has(mac)) reuse.set(mac, now.get(mac)!);
    }
  }
  return reuse;
}

/** The archives a generation's state records, by MAC, with their digests (for a rollback to reuse). */
export function recordedNodeArchives(state: TreeState): Map<string, NodeArchiveRef> {
  const refs = new Map<string, NodeArchiveRef>();
  for (const [mac, node] of Object.entries(state.nodes ?? {})) {
    const artifact = state.files[node.archive];
    if (artifact === undefined || !isNodeArchivePath(node.archive)) continue;
    refs.set(mac, { host: node.host, archive: node.archive, sha256: artifact.sha256, size: artifact.size });
  }
  return refs;
}
