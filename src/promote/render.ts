import { invalidInput } from '../errors/user-error.js';
import { maxCmdlineBytes } from '../recipe/cmdline-size.js';
import { rootfsUrlPlaceholder, type Artifact } from '../store/manifest.js';
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
 * Every config names versioned artifact paths (`/pxeforge/images/<name>/<version>/…`) and
 * this generation's own files, never `current`: a node that read its config before a
 * switch keeps loading one consistent version.
 */

export type RenderedFile = { kind: 'file'; content: string } | { kind: 'link'; target: string };

/** What rendering needs to know of a served version (from its manifest). */
export interface VersionInfo {
  format: 'squashfs' | 'initramfs';
  cmdline: string;
  artifacts: Record<string, Artifact>;
}

export interface RenderInput {
  generation: number;
  channels: TreeState['channels'];
  versions: ReadonlyMap<string, VersionInfo>;
  site: Pick<SiteConfig, 'nodeGroups' | 'unknownNodes' | 'httpBaseUrl'>;
}

export interface Rendering {
  /** Generation-relative path → file or symlink. */
  files: Map<string, RenderedFile>;
  /** Entry points (tftp-root-relative) → generation-relative path they resolve to. */
  entries: Map<string, string>;
  /** Entry points a site may already own (its own default config): skipped then, not refused. */
  optionalEntries: Set<string>;
  groups: TreeState['groups'];
  /** Tree-relative artifact paths the configs name, with their digests. */
  referenced: TreeState['files'];
}

export const versionKey = (image: string, version: string) => `${image}@${version}`;

export function hyphenMac(mac: string): string {
  return mac.replaceAll(':', '-');
}

interface Target {
  label: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

export function renderGeneration(input: RenderInput): Rendering {
  const { generation, site } = input;
  const files = new Map<string, RenderedFile>();
  const entries = new Map<string, string>();
  const optionalEntries = new Set<string>();
  const referenced: Rendering['referenced'] = {};
  const genPath = `/${treeDirName}/generations/${generation}`;

  const target = (image: string, channel: string, kernelArgs: string): Target | undefined => {
    const served: Served | undefined = input.channels[channel]?.[image];
    if (served === undefined) return undefined;
    const info = input.versions.get(versionKey(image, served.version));
    if (info === undefined) throw new Error(`no manifest for ${versionKey(image, served.version)}`);
    const dir = placedDir(image, served.version);
    for (const [name, artifact] of Object.entries(info.artifacts)) referenced[`${dir}/${name}`] = artifact;
    let cmdline = info.cmdline;
    if (info.format === 'squashfs') {
      if (site.httpBaseUrl === undefined) throw new Error('squashfs images need httpBaseUrl');
      cmdline = cmdline.replace(rootfsUrlPlaceholder, `${httpBase(site.httpBaseUrl)}/${dir}/rootfs.squashfs`);
    }
    const full = [cmdline, kernelArgs].filter((part) => part !== '').join(' ');
    // validate counted the root URL as a reserve; here it is known: the whole line must fit.
    const bytes = Buffer.byteLength(`initrd=initrd.img ${full}`);
    if (bytes > maxCmdlineBytes) {
      throw invalidInput(
        'CMDLINE_TOO_LONG',
        `${image}@${served.version} in ${channel}: the kernel command line is ${bytes} bytes with the root URL, over the ${maxCmdlineBytes} bytes boot loaders keep`,
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
  const groupTargets = new Map<string, Target>();
  for (const group of site.nodeGroups) {
    const t = target(group.image, group.channel, group.kernelArgs);
    groups.push({
      name: group.name,
      image: group.image,
      channel: group.channel,
      version: input.channels[group.channel]?.[group.image]?.version ?? null,
      members: group.members.length,
      firmware: group.firmware,
    });
    if (t === undefined) continue;
    groupTargets.set(group.name, t);
    renderGroup(group, t);
  }

  function renderGroup(group: NodeGroup, t: Target) {
    const header = `pxeforge generation ${generation}: node group ${group.name} boots ${t.label}`;
    const ipxe = `ipxe/groups/${group.name}.ipxe`;
    files.set(ipxe, { kind: 'file', content: ipxeBoot(header, t, site.httpBaseUrl) });
    if (group.firmware === 'bios') files.set(`pxelinux/${group.name}.cfg`, { kind: 'file', content: pxelinuxBoot(header, t) });
    else files.set(`grub/groups/${group.name}.cfg`, { kind: 'file', content: grubBoot(header, t) });
    for (const member of group.members) {
      const mac = hyphenMac(member.mac);
      files.set(`ipxe/${mac}.ipxe`, { kind: 'link', target: `groups/${group.name}.ipxe` });
      if (group.firmware === 'bios') {
        files.set(`pxelinux.cfg/01-${mac}`, { kind: 'link', target: `../pxelinux/${group.name}.cfg` });
        entries.set(`pxelinux.cfg/01-${mac}`, `pxelinux.cfg/01-${mac}`);
      } else {
        files.set(`grub/grub.cfg-01-${mac}`, { kind: 'link', target: `groups/${group.name}.cfg` });
        files.set(`grub/mac/${member.mac}.cfg`, { kind: 'link', target: `../groups/${group.name}.cfg` });
        entries.set(`grub/grub.cfg-01-${mac}`, `grub/grub.cfg-01-${mac}`);
      }
    }
  }

  // Unknown nodes: local boot, one group's image, or a menu of everything served.
  const { unknownNodes } = site;
  const unknownTarget = unknownNodes.action === 'group' ? groupTargets.get(unknownNodes.group!) : undefined;
  const menu: Target[] =
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
  files.set('ipxe/unknown.ipxe', {
    kind: 'file',
    content: unknownTarget ? ipxeBoot(unknownHeader, unknownTarget, site.httpBaseUrl) : ipxeMenu(unknownHeader, menu, site.httpBaseUrl),
  });
  files.set('pxelinux.cfg/default', {
    kind: 'file',
    content: unknownTarget ? pxelinuxBoot(unknownHeader, unknownTarget) : pxelinuxMenu(unknownHeader, menu),
  });
  files.set('grub/grub.cfg', {
    kind: 'file',
    content: [
      `# ${unknownHeader.replace('a node in no node group', 'GRUB entry')}`,
      '# Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look',
      '# for it get there through this file.',
      `source ${genPath}/grub/mac/\${net_default_mac}.cfg`,
      ...(unknownTarget ? grubBoot(unknownHeader, unknownTarget) : grubMenu(unknownHeader, menu)).split('\n').slice(1),
    ].join('\n'),
  });
  files.set('boot.ipxe', {
    kind: 'file',
    content: [
      '#!ipxe',
      `# pxeforge generation ${generation}: each node chains the config of its MAC, or the unknown-node config.`,
      `chain --autofree ${genPath}/ipxe/\${netX/mac:hexhyp}.ipxe || goto unknown`,
      'exit',
      ':unknown',
      `chain --autofree ${genPath}/ipxe/unknown.ipxe`,
      '',
    ].join('\n'),
  });

  entries.set('boot.ipxe', 'boot.ipxe');
  entries.set('pxelinux.cfg/default', 'pxelinux.cfg/default');
  entries.set('grub/grub.cfg', 'grub/grub.cfg');
  optionalEntries.add('pxelinux.cfg/default');
  optionalEntries.add('grub/grub.cfg');

  return { files, entries, optionalEntries, groups, referenced };
}

function httpBase(url: string): string {
  if (!/^[A-Za-z0-9_.,:/=+@%~-]+$/.test(url)) throw new Error(`httpBaseUrl ${url} has characters a boot config cannot carry`);
  return url.replace(/\/+$/, '');
}

function ipxeUrl(file: string, httpBaseUrl: string | undefined): string {
  // Over HTTP when the site serves the tree over HTTP (much faster than TFTP for big initrds).
  return httpBaseUrl === undefined ? file : `${httpBase(httpBaseUrl)}${file}`;
}

function ipxeBoot(header: string, t: Target, httpBaseUrl: string | undefined): string {
  return [
    '#!ipxe',
    `# ${header}`,
    `echo pxeforge: ${t.label}`,
    `kernel ${ipxeUrl(t.kernel, httpBaseUrl)} initrd=initrd.img ${t.cmdline}`.trimEnd(),
    `initrd --name initrd.img ${ipxeUrl(t.initrd, httpBaseUrl)}`,
    'boot',
    '',
  ].join('\n');
}

function ipxeMenu(header: string, targets: Target[], httpBaseUrl: string | undefined): string {
  if (targets.length === 0)
    return ['#!ipxe', `# ${header}`, 'echo pxeforge: this node is in no node group; booting from local disk', 'exit', ''].join('\n');
  return [
    '#!ipxe',
    `# ${header}`,
    'menu pxeforge: this node is in no node group',
    ...targets.map((t, i) => `item image${i} ${t.label}`),
    'item --default local local disk',
    'choose --timeout 30000 selected || goto local',
    'goto ${selected}',
    ...targets.flatMap((t, i) => [
      `:image${i}`,
      `kernel ${ipxeUrl(t.kernel, httpBaseUrl)} initrd=initrd.img ${t.cmdline}`.trimEnd(),
      `initrd --name initrd.img ${ipxeUrl(t.initrd, httpBaseUrl)}`,
      'boot',
    ]),
    ':local',
    'exit',
    '',
  ].join('\n');
}

function pxelinuxBoot(header: string, t: Target): string {
  return [
    `# ${header}`,
    'DEFAULT pxeforge',
    'PROMPT 0',
    'LABEL pxeforge',
    `  MENU LABEL ${t.label}`,
    `  KERNEL ${t.kernel}`,
    `  INITRD ${t.initrd}`,
    `  APPEND ${t.cmdline}`,
    '',
  ].join('\n');
}

function pxelinuxMenu(header: string, targets: Target[]): string {
  const local = ['LABEL local', '  MENU LABEL local disk', '  LOCALBOOT 0'];
  if (targets.length === 0) return [`# ${header}`, 'DEFAULT local', 'PROMPT 0', ...local, ''].join('\n');
  return [
    `# ${header}`,
    'DEFAULT local',
    'PROMPT 1',
    'TIMEOUT 300',
    'SAY pxeforge: this node is in no node group. Type a label, or wait for the local disk:',
    ...targets.map((t, i) => `SAY   image${i}: ${t.label}`),
    ...local,
    ...targets.flatMap((t, i) => [
      `LABEL image${i}`,
      `  MENU LABEL ${t.label}`,
      `  KERNEL ${t.kernel}`,
      `  INITRD ${t.initrd}`,
      `  APPEND ${t.cmdline}`,
    ]),
    '',
  ].join('\n');
}

function grubBoot(header: string, t: Target): string {
  return [
    `# ${header}`,
    'set timeout=0',
    `menuentry '${t.label}' {`,
    `  linux ${t.kernel} ${t.cmdline}`.trimEnd(),
    `  initrd ${t.initrd}`,
    '}',
    '',
  ].join('\n');
}

function grubMenu(header: string, targets: Target[]): string {
  if (targets.length === 0) return [`# ${header}`, 'exit', ''].join('\n');
  return [
    `# ${header}`,
    'set timeout=30',
    `set default=${targets.length}`,
    ...targets.flatMap((t) => [`menuentry '${t.label}' {`, `  linux ${t.kernel} ${t.cmdline}`.trimEnd(), `  initrd ${t.initrd}`, '}']),
    "menuentry 'local disk' {",
    '  exit',
    '}',
    '',
  ].join('\n');
}
