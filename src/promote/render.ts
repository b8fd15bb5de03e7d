import { type BootTarget, httpBase, type RenderedFile, type RenderedFiles, type RenderContext } from '../boot-loaders/boot-loader.js';
import { bootLoaders } from '../boot-loaders/registry.js';
import { invalidInput } from '../errors/user-error.js';
import { fetchedRoot, type FormatName } from '../formats/registry.js';
import { maxCmdlineBytes } from '../recipe/cmdline-size.js';
import { rootfsUrlPlaceholder, type Artifact } from '../store/manifest.js';
import { bootParameters } from '../nodes/boot-record.js';
import type { Accounts } from '../nodes/node-file.js';
import type { NodeGroup, SiteConfig } from '../site/site-config.js';
import { placedDir, treeDirName, type Served, type TreeState } from './tree.js';

/**
 * Renders one generation of boot configs as a pure function of the channels' state and the
 * node groups. The same input gives the same files, byte for byte.
 *
 * Inside `generations/<n>/`:
 *   boot.ipxe                       dispatcher: chains ipxe/<mac>.ipxe of this generation
 *   ipxe/groups/<group>.ipxe        kernel + initrd of the group's version
 *   ipxe/<mac>.ipxe -> groups/…     one link per node
 *   ipxe/unknown.ipxe               what a node in no group does
 *   pxelinux/<group>.cfg, pxelinux.cfg/01-<mac> -> ../pxelinux/…, pxelinux.cfg/default
 *   grub/groups/<group>.cfg, grub/grub.cfg-01-<mac> -> groups/…, grub/grub.cfg (dispatcher)
 *
 * A member with node files (an archive in `pxeforge/nodes/<sha256>.cpio`) has configs of its
 * own instead of links to its group's: ipxe/nodes/<mac>.ipxe, pxelinux/nodes/<mac>.cfg,
 * grub/nodes/<mac>.cfg, each loading the archive as a second initrd.
 *
 * Each boot loader (src/boot-loaders) renders its own files; this module picks the targets.
 *
 * Every config names versioned artifact paths (`/pxeforge/images/<name>/<version>/…`) and
 * this generation's own files, never `current`: a node that read its config before a
 * switch keeps loading one consistent version.
 */

export type { RenderedFile } from '../boot-loaders/boot-loader.js';

/** What rendering needs to know of a served version (from its manifest). */
export interface VersionInfo {
  format: FormatName;
  cmdline: string;
  artifacts: Record<string, Artifact>;
  /** The image's users and groups (node files' owners), when its manifest records them. */
  accounts?: Accounts;
  /** Whether the image moves a node's archive into place at boot (its manifest records the apply program). */
  appliesNodeFiles?: boolean;
}

/** A node's archive in the tree, by MAC: what its configs load beside the image. */
export interface NodeArchiveRef {
  host: string;
  /** Tree-relative: `pxeforge/nodes/<sha256>.cpio`. */
  archive: string;
  sha256: string;
  size: number;
}

export interface RenderInput {
  generation: number;
  channels: TreeState['channels'];
  versions: ReadonlyMap<string, VersionInfo>;
  site: Pick<SiteConfig, 'nodeGroups' | 'unknownNodes' | 'httpBaseUrl'>;
  /** Members with node files, by MAC (members of a group that serves nothing get none). */
  nodeArchives?: ReadonlyMap<string, NodeArchiveRef>;
  /** Rollouts in progress (the state's `rollouts`): their moved members boot the rollout's version. */
  rollouts?: TreeState['rollouts'];
}

export interface Rendering {
  /** Generation-relative path → file or symlink. */
  files: Map<string, RenderedFile>;
  /** Entry points (tftp-root-relative) → generation-relative path they resolve to. */
  entries: Map<string, string>;
  /** Entry points a site may already own (its own default config): skipped then, not refused. */
  optionalEntries: Set<string>;
  groups: TreeState['groups'];
  /** Tree-relative artifact paths the configs name, with their digests (node archives included). */
  referenced: TreeState['files'];
  /** The node archives the configs load, by MAC. */
  nodes: NonNullable<TreeState['nodes']>;
}

export const versionKey = (image: string, version: string) => `${image}@${version}`;

export function renderGeneration(input: RenderInput): Rendering {
  const { generation, site } = input;
  const files = new Map<string, RenderedFile>();
  const entries = new Map<string, string>();
  const optionalEntries = new Set<string>();
  const referenced: Rendering['referenced'] = {};
  const nodes: Rendering['nodes'] = {};
  const context: RenderContext = {
    generation,
    generationPath: `/${treeDirName}/generations/${generation}`,
    httpBaseUrl: site.httpBaseUrl,
  };
  const add = (rendered: RenderedFiles) => {
    for (const [file, content] of rendered) files.set(file, content);
  };

  /** A served image's target; `group` when a node group (or the unknown-node action `group`) boots it. */
  const target = (image: string, channel: string, kernelArgs: string, group?: string, rolloutVersion?: string): BootTarget | undefined => {
    const channelServed: Served | undefined = input.channels[channel]?.[image];
    if (channelServed === undefined) return undefined;
    const served = { version: rolloutVersion ?? channelServed.version };
    const info = input.versions.get(versionKey(image, served.version));
    if (info === undefined) throw new Error(`no manifest for ${versionKey(image, served.version)}`);
    const dir = placedDir(image, served.version);
    for (const [name, artifact] of Object.entries(info.artifacts)) referenced[`${dir}/${name}`] = artifact;
    let cmdline = info.cmdline;
    const root = fetchedRoot(info.format, info.artifacts);
    if (root !== undefined) {
      if (site.httpBaseUrl === undefined) throw new Error(`${info.format} images need httpBaseUrl`);
      cmdline = cmdline.replace(rootfsUrlPlaceholder, `${httpBase(site.httpBaseUrl)}/${dir}/${root.artifact}`);
      if (root.sha256 === undefined) throw new Error(`${versionKey(image, served.version)} has no ${root.artifact}`);
    }
    // What the node records of its boot (docs/fleet.md), and the digest it checks its fetched root against.
    const rootSha256 = root?.sha256;
    const parameters = bootParameters({ image, version: served.version, generation, group, channel, rootSha256 }).join(' ');
    const full = [cmdline, kernelArgs, parameters].filter((part) => part !== '').join(' ');
    // validate counted the root URL as a reserve; here it is known: the whole line must fit.
    const bytes = Buffer.byteLength(`initrd=initrd.img ${full}`);
    if (bytes > maxCmdlineBytes) {
      throw invalidInput(
        'CMDLINE_TOO_LONG',
        `${image}@${served.version} in ${channel}: the kernel command line is ${bytes} bytes with the root URL and the pxeforge parameters, over the ${maxCmdlineBytes} bytes boot loaders keep`,
        'nothing was changed; shorten httpBaseUrl or the kernel parameters (recipe kernel.cmdline, node group kernelArgs)',
      );
    }
    return {
      label: `${image}@${served.version} (${channel})`,
      kernel: `/${dir}/vmlinuz`,
      initrd: `/${dir}/initrd.img`,
      cmdline: full,
    };
  };

  const groups: Rendering['groups'] = [];
  const groupTargets = new Map<string, BootTarget>();
  for (const group of site.nodeGroups) {
    const t = target(group.image, group.channel, group.kernelArgs, group.name);
    // A rollout in progress: its moved members boot the rollout's version, through configs of their own.
    const rollout = input.rollouts?.[group.channel]?.[group.image];
    const moved = rollout === undefined ? [] : group.members.filter(({ mac }) => Object.hasOwn(rollout.nodes, mac));
    groups.push({
      name: group.name,
      image: group.image,
      channel: group.channel,
      version: input.channels[group.channel]?.[group.image]?.version ?? null,
      members: group.members.length,
      firmware: group.firmware,
      ...(rollout === undefined || t === undefined ? {} : { rollout: { version: rollout.version, moved: moved.length } }),
    });
    if (t === undefined) continue;
    groupTargets.set(group.name, t);
    const subsets = [{ name: group.name, members: group.members.filter((member) => !moved.includes(member)), target: t }];
    if (rollout !== undefined && moved.length > 0) {
      // `@` is in no group name: the moved members' files can never meet a real group's.
      const next = target(group.image, group.channel, group.kernelArgs, group.name, rollout.version)!;
      subsets.push({ name: `${group.name}@${rollout.version}`, members: moved, target: next });
    }
    for (const subset of subsets) renderMembers(group, subset.name, subset.members, subset.target);
  }

  /** The configs of a group's members that boot one target (all of them, or the moved or unmoved part of a rollout). */
  function renderMembers(group: NodeGroup, name: string, members: NodeGroup['members'], t: BootTarget): void {
    const header = `pxeforge generation ${generation}: node group ${group.name} boots ${t.label}`;
    const nodeInitrds: Record<string, string> = {};
    const nodeCmdlines: Record<string, string> = {};
    for (const { mac } of members) {
      const archive = input.nodeArchives?.get(mac);
      if (archive === undefined) continue;
      nodeInitrds[mac] = `/${archive.archive}`;
      nodeCmdlines[mac] = [t.cmdline, ...bootParameters({ nodeFiles: archive.sha256 })].join(' ');
      referenced[archive.archive] = { sha256: archive.sha256, size: archive.size };
      nodes[mac] = { host: archive.host, archive: archive.archive };
    }
    const longest = Object.values(nodeCmdlines).sort((a, b) => b.length - a.length)[0];
    if (longest !== undefined) {
      const bytes = Buffer.byteLength(`initrd=initrd.img initrd=node.cpio ${longest}`);
      if (bytes > maxCmdlineBytes)
        throw invalidInput(
          'CMDLINE_TOO_LONG',
          `node group ${group.name}: the kernel command line is ${bytes} bytes with the node archive's initrd, over the ${maxCmdlineBytes} bytes boot loaders keep`,
          'nothing was changed; shorten httpBaseUrl or the kernel parameters (recipe kernel.cmdline, node group kernelArgs)',
        );
    }
    const toRender = {
      name,
      firmware: group.firmware,
      macs: members.map((member) => member.mac),
      nodeInitrds,
      nodeCmdlines,
    };
    for (const loader of Object.values(bootLoaders)) {
      if (!loader.firmware.includes(group.firmware)) continue;
      const rendered = loader.renderGroup(toRender, t, header, context);
      add(rendered.files);
      for (const entry of rendered.entries) entries.set(entry, entry);
    }
  }

  // Unknown nodes: local boot, one group's image, or a menu of everything served.
  const { unknownNodes } = site;
  const unknownTarget = unknownNodes.action === 'group' ? groupTargets.get(unknownNodes.group!) : undefined;
  const menu: BootTarget[] =
    unknownNodes.action === 'menu'
      ? Object.entries(input.channels)
          .sort(([a], [b]) => a.localeCompare(b))
          .flatMap(([channel, images]) =>
            Object.keys(images)
              .sort()
              .map((image) => target(image, channel, '')!),
          )
      : [];
  const unknownHeader = `pxeforge generation ${generation}: a node in no node group (unknownNodes: ${unknownNodes.action})`;
  for (const loader of Object.values(bootLoaders)) {
    add(loader.renderDefault({ header: unknownHeader, target: unknownTarget, menu }, context));
    for (const entry of loader.entryPoints) entries.set(entry, entry);
    for (const entry of loader.optionalEntries) optionalEntries.add(entry);
  }

  return { files, entries, optionalEntries, groups, referenced, nodes };
}
