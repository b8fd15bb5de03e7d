import { access } from 'node:fs/promises';
import path from 'node:path';

import type { TreeBoot } from '../boot-test/boot-test.js';
import { guestHostAddress } from '../boot-test/qemu-argv.js';
import { publicKeyFingerprint } from '../boot-test/ssh.js';
import { arches, getArch } from '../arches/registry.js';
import { isEfiProgram } from '../boot-loaders/registry.js';
import { invalidInput, UserError } from '../errors/user-error.js';
import { readHostKey } from '../nodes/host-keys.js';
import { hostKeyFiles } from '../nodes/node-file.js';
import type { BuildSettings, NodeGroup, SiteTree } from '../site/site-config.js';
import { resolveVersion } from '../store/store.js';
import { requireChannel } from './promote.js';
import { placedDir, readCurrent, treePaths, type TreeState } from './tree.js';

/**
 * How `pxeforge test name@version --via pxe --channel c` boots: as a member of a node group
 * that follows that image in that channel (`node`, or the group's first member), from the
 * TFTP root, through the entry file a node's firmware loads. The channel must serve exactly
 * that version now. A member of a group with managed host keys must present its own key.
 */
export async function treeBootFor(
  site: BuildSettings & SiteTree,
  reference: string,
  options: { channel: string; entry: string; group?: string; node?: string },
): Promise<{ image: string; tree: TreeBoot }> {
  const { name, version } = await resolveVersion(site.store, reference);
  requireChannel(site, options.channel);
  const paths = treePaths(site.tftpRoot);
  const current = await readCurrent(paths);
  const served = current?.state.channels[options.channel]?.[name];
  if (current === undefined || served === undefined) {
    throw invalidInput(
      'NOT_PROMOTED',
      `channel \`${options.channel}\` serves no version of ${name}`,
      `promote it first: pxeforge promote ${name}@${version} --channel ${options.channel}`,
    );
  }
  if (served.version !== version) {
    throw invalidInput(
      'NOT_SERVED',
      `channel \`${options.channel}\` serves ${name}@${served.version}, not ${version}`,
      `test that version, or promote ${name}@${version} --channel ${options.channel} first`,
    );
  }
  const groups = site.nodeGroups.filter(
    (g) => g.image === name && g.channel === options.channel && (options.group === undefined || g.name === options.group),
  );
  if (options.node !== undefined) {
    const { node } = options;
    if (!site.nodeGroups.some((g) => g.members.some((m) => m.host === node))) {
      throw invalidInput('UNKNOWN_NODE', `no node group of pxeforge.yaml has a node named ${node}`);
    }
    if (!groups.some((g) => g.members.some((m) => m.host === node))) {
      throw invalidInput(
        'UNKNOWN_NODE',
        `node ${node} is not in a node group${options.group === undefined ? '' : ` named ${options.group}`} that follows ${name} in ${options.channel}`,
      );
    }
  }
  const group = groups.find((g) => g.members.some((m) => options.node === undefined || m.host === options.node));
  if (group === undefined) {
    throw invalidInput(
      'NO_NODE_GROUP',
      `no node group${options.group === undefined ? '' : ` named ${options.group}`} with members follows ${name} in ${options.channel}: no node would boot it from the tree`,
      'add a node group for it to pxeforge.yaml (the test boots as its first member), then `pxeforge refresh`',
    );
  }
  const member = group.members.find((m) => options.node === undefined || m.host === options.node)!;
  if (!current.state.groups.some((g) => g.name === group.name && g.version === version)) {
    throw invalidInput(
      'GROUP_NOT_RENDERED',
      `node group ${group.name} is not in generation ${current.generation} of the tree`,
      'run `pxeforge refresh` to render the node groups of pxeforge.yaml',
    );
  }
  // An EFI program (the site's GRUB net image) is what a UEFI node's firmware loads; anything else runs under BIOS.
  const uefi = isEfiProgram(options.entry);
  if (uefi && group.firmware !== 'uefi')
    throw invalidInput('BAD_OPTION', `--entry ${options.entry} is an EFI program, but node group ${group.name} boots with BIOS`);
  // A GRUB net image is built for one platform: an arm64 node's firmware cannot run x86_64-efi/core.efi, nor the other way round.
  const { grub } = getArch(group.arch);
  const platform = Object.values(arches).find((arch) => options.entry.startsWith(`grub/${arch.grub.platform}/`))?.grub.platform;
  if (platform !== undefined && platform !== grub.platform) {
    throw invalidInput(
      'BAD_OPTION',
      `--entry ${options.entry} is GRUB for ${platform}, but node group ${group.name} is ${group.arch}`,
      `give its GRUB net image, grub/${grub.platform}/core.efi (grub-mknetdir with the modules of ${grub.package})`,
    );
  }
  if (options.entry !== 'boot.ipxe') {
    if (!uefi && group.firmware !== 'bios')
      throw invalidInput(
        'BAD_OPTION',
        `--entry ${options.entry}: node group ${group.name} boots with UEFI; give its EFI boot loader (e.g. grub/${grub.platform}/core.efi)`,
      );
    if (
      !(await access(path.join(site.tftpRoot, options.entry)).then(
        () => true,
        () => false,
      ))
    ) {
      throw invalidInput(
        'NO_ENTRY_FILE',
        `${path.join(site.tftpRoot, options.entry)} does not exist`,
        `the site provides its boot loader: pxelinux.0 and ldlinux.c32 (Debian packages pxelinux, syslinux-common) for BIOS, a GRUB net image for UEFI (grub-mknetdir; grub/${grub.platform}/core.efi from ${grub.package} for ${group.arch} nodes)`,
      );
    }
  }
  let httpPort: number | undefined;
  if (site.httpBaseUrl !== undefined) {
    const url = new URL(site.httpBaseUrl);
    if (url.hostname === guestHostAddress) httpPort = Number(url.port || 80);
  }
  return {
    image: `${name}@${version}`,
    tree: {
      tftpRoot: site.tftpRoot,
      channel: options.channel,
      generation: current.generation,
      group: group.name,
      mac: member.mac,
      node: member.host,
      managedHostKey: await managedHostKey(site, group, member),
      nodeArchive: nodeArchiveOf(current.state, member.mac),
      entry: options.entry,
      placed: placedDir(name, version),
      httpPort,
      uefi,
    },
  };
}

/** The archive the generation gives a member, with the digest the state records for it. */
function nodeArchiveOf(state: TreeState, mac: string): TreeBoot['nodeArchive'] {
  const archive = state.nodes?.[mac]?.archive;
  const artifact = archive === undefined ? undefined : state.files[archive];
  return archive === undefined || artifact === undefined ? undefined : { path: archive, sha256: artifact.sha256 };
}

/** The fingerprint of a member's managed SSH host key (undefined when its group makes keys at boot). */
async function managedHostKey(site: SiteTree, group: NodeGroup, member: NodeGroup['members'][number]): Promise<string | undefined> {
  if (group.hostKeys !== 'managed') return undefined;
  if (member.host === undefined) {
    throw invalidInput('UNKNOWN_NODE', `node group ${group.name} has managed host keys, but member ${member.mac} has no host name`);
  }
  // Regular files only, never followed through a link.
  const key = await readHostKey(site.secretsDir, member.host);
  const fingerprint = key === undefined ? undefined : publicKeyFingerprint(key.public);
  if (fingerprint === undefined) {
    const file = hostKeyFiles(site.secretsDir, member.host).public;
    throw new UserError(
      'NO_MANAGED_HOST_KEY',
      `${member.host} has no managed SSH host key (${file} ${key === undefined ? 'is missing' : 'is not an OpenSSH public key'})`,
      { hint: '`pxeforge refresh` makes the managed keys nodes lack and delivers them' },
    );
  }
  return fingerprint;
}
