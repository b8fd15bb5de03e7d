import { describe, expect, it } from 'vitest';

import { UserError } from '../../src/errors/user-error.js';

import { renderGeneration, type RenderInput, type Rendering, type VersionInfo } from '../../src/promote/render.js';
import type { Served } from '../../src/promote/tree.js';
import type { NodeGroup, SiteConfig } from '../../src/site/site-config.js';

/**
 * The boot configs a node gets, file by file. Each snapshot below was read as a node would
 * read it: the right kernel, initrd and command line for the group, the generation's own
 * paths, and the unknown-node action the site asked for.
 */

const served = (version: string): Served => ({
  version,
  since: '2026-11-25T10:00:00.000Z',
  by: 'admin',
  previous: [],
  forced: false,
  testReport: null,
  testPassed: null,
  commit: null,
  dirty: false,
});

const artifacts = (seed: string) => ({
  vmlinuz: { sha256: `${seed}1`, size: 10 },
  'initrd.img': { sha256: `${seed}2`, size: 20 },
});

/** compute: a squashfs image (root over HTTP); gpu and tiny: initramfs images, tiny without a command line. */
const versions = new Map<string, VersionInfo>([
  [
    'compute@c1',
    {
      format: 'squashfs',
      cmdline: 'root=live:{rootfs_url} rd.live.image ip=dhcp',
      artifacts: { ...artifacts('c'), 'rootfs.squashfs': { sha256: 'c3'.repeat(32), size: 30 } },
    },
  ],
  ['gpu@g1', { format: 'initramfs', cmdline: 'quiet', artifacts: artifacts('g') }],
  ['tiny@t1', { format: 'initramfs', cmdline: '', artifacts: artifacts('t') }],
]);

const group = (
  name: string,
  image: string,
  channel: string,
  firmware: NodeGroup['firmware'],
  kernelArgs: string,
  macs: string[],
): NodeGroup => ({
  name,
  image,
  channel,
  firmware,
  kernelArgs,
  arch: 'amd64',
  hostKeys: 'boot',
  members: macs.map((mac, index) => ({ mac, host: `${name}${index + 1}` })),
});

/** Channels listed out of order (production before lab), images out of order within one. */
const channels = {
  production: { tiny: served('t1'), compute: served('c1') },
  lab: { gpu: served('g1') },
};

const nodeGroups: NodeGroup[] = [
  group('compute', 'compute', 'production', 'bios', 'console=ttyS0,115200', ['52:54:00:00:00:01', '52:54:00:00:00:02']),
  group('gpu', 'gpu', 'lab', 'uefi', 'nvidia.modeset=1', ['52:54:00:00:01:01']),
  group('tiny', 'tiny', 'production', 'uefi', '', ['52:54:00:00:02:01']),
  // Follows an image its channel never served, and a channel nothing was ever promoted to.
  group('login', 'gpu', 'production', 'bios', '', ['52:54:00:00:03:01']),
  group('spare', 'tiny', 'nowhere', 'uefi', '', ['52:54:00:00:04:01']),
];

function render(
  site: Partial<RenderInput['site']> & Pick<RenderInput['site'], 'unknownNodes'>,
  input: Partial<RenderInput> = {},
): Rendering {
  return renderGeneration({
    generation: 7,
    channels,
    versions,
    site: { nodeGroups, httpBaseUrl: 'http://10.0.0.1:8080/tftp/', ...site } as Pick<
      SiteConfig,
      'nodeGroups' | 'unknownNodes' | 'httpBaseUrl'
    >,
    ...input,
  });
}

/** Every file of a rendering as one text: contents in full, links as `path -> target`. */
function show(rendering: Rendering, only?: (file: string) => boolean): string {
  return [...rendering.files.entries()]
    .filter(([file]) => only === undefined || only(file))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([file, rendered]) => (rendered.kind === 'link' ? `${file} -> ${rendered.target}` : `=== ${file}\n${rendered.content}`))
    .join('\n');
}

const unknownFiles = (file: string) => ['ipxe/unknown.ipxe', 'pxelinux.cfg/default', 'grub/grub.cfg'].includes(file);

describe('renderGeneration', () => {
  it('renders every node group for every boot loader, with the unknown nodes booting locally', () => {
    const rendering = render({ unknownNodes: { action: 'localboot', group: undefined } });
    expect(show(rendering)).toMatchInlineSnapshot(`
      "=== boot.ipxe
      #!ipxe
      # pxeforge generation 7: each node chains the config of its MAC, or the unknown-node config.
      chain --autofree /pxeforge/generations/7/ipxe/\${netX/mac:hexhyp}.ipxe || goto unknown
      exit
      :unknown
      chain --autofree /pxeforge/generations/7/ipxe/unknown.ipxe

      === grub/groups/gpu.cfg
      # pxeforge generation 7: node group gpu boots gpu@g1 (lab)
      set timeout=0
      menuentry 'gpu@g1 (lab)' {
        linux /pxeforge/images/gpu/g1/vmlinuz quiet nvidia.modeset=1 pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.group=gpu pxeforge.channel=lab
        initrd /pxeforge/images/gpu/g1/initrd.img
      }

      === grub/groups/tiny.cfg
      # pxeforge generation 7: node group tiny boots tiny@t1 (production)
      set timeout=0
      menuentry 'tiny@t1 (production)' {
        linux /pxeforge/images/tiny/t1/vmlinuz pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.group=tiny pxeforge.channel=production
        initrd /pxeforge/images/tiny/t1/initrd.img
      }

      === grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: localboot)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      exit

      grub/grub.cfg-01-52-54-00-00-01-01 -> groups/gpu.cfg
      grub/grub.cfg-01-52-54-00-00-02-01 -> groups/tiny.cfg
      grub/mac/52:54:00:00:01:01.cfg -> ../groups/gpu.cfg
      grub/mac/52:54:00:00:02:01.cfg -> ../groups/tiny.cfg
      ipxe/52-54-00-00-00-01.ipxe -> groups/compute.ipxe
      ipxe/52-54-00-00-00-02.ipxe -> groups/compute.ipxe
      ipxe/52-54-00-00-01-01.ipxe -> groups/gpu.ipxe
      ipxe/52-54-00-00-02-01.ipxe -> groups/tiny.ipxe
      === ipxe/groups/compute.ipxe
      #!ipxe
      # pxeforge generation 7: node group compute boots compute@c1 (production)
      echo pxeforge: compute@c1 (production)
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/vmlinuz initrd=initrd.img root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/initrd.img
      boot

      === ipxe/groups/gpu.ipxe
      #!ipxe
      # pxeforge generation 7: node group gpu boots gpu@g1 (lab)
      echo pxeforge: gpu@g1 (lab)
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/gpu/g1/vmlinuz initrd=initrd.img quiet nvidia.modeset=1 pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.group=gpu pxeforge.channel=lab
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/gpu/g1/initrd.img
      boot

      === ipxe/groups/tiny.ipxe
      #!ipxe
      # pxeforge generation 7: node group tiny boots tiny@t1 (production)
      echo pxeforge: tiny@t1 (production)
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/vmlinuz initrd=initrd.img pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.group=tiny pxeforge.channel=production
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/initrd.img
      boot

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: localboot)
      echo pxeforge: this node is in no node group; booting from local disk
      exit

      pxelinux.cfg/01-52-54-00-00-00-01 -> ../pxelinux/compute.cfg
      pxelinux.cfg/01-52-54-00-00-00-02 -> ../pxelinux/compute.cfg
      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: localboot)
      DEFAULT local
      PROMPT 0
      LABEL local
        MENU LABEL local disk
        LOCALBOOT 0

      === pxelinux/compute.cfg
      # pxeforge generation 7: node group compute boots compute@c1 (production)
      DEFAULT pxeforge
      PROMPT 0
      LABEL pxeforge
        MENU LABEL compute@c1 (production)
        KERNEL /pxeforge/images/compute/c1/vmlinuz
        INITRD /pxeforge/images/compute/c1/initrd.img
        APPEND root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      "
    `);
  });

  it('names the entry points, the groups with their versions, and every artifact a config names', () => {
    const rendering = render({ unknownNodes: { action: 'localboot', group: undefined } });
    expect(Object.fromEntries(rendering.entries)).toMatchInlineSnapshot(`
      {
        "boot.ipxe": "boot.ipxe",
        "grub/grub.cfg": "grub/grub.cfg",
        "grub/grub.cfg-01-52-54-00-00-01-01": "grub/grub.cfg-01-52-54-00-00-01-01",
        "grub/grub.cfg-01-52-54-00-00-02-01": "grub/grub.cfg-01-52-54-00-00-02-01",
        "pxelinux.cfg/01-52-54-00-00-00-01": "pxelinux.cfg/01-52-54-00-00-00-01",
        "pxelinux.cfg/01-52-54-00-00-00-02": "pxelinux.cfg/01-52-54-00-00-00-02",
        "pxelinux.cfg/default": "pxelinux.cfg/default",
      }
    `);
    expect([...rendering.optionalEntries]).toEqual(['pxelinux.cfg/default', 'grub/grub.cfg']);
    expect(rendering.groups).toMatchInlineSnapshot(`
      [
        {
          "channel": "production",
          "firmware": "bios",
          "image": "compute",
          "members": 2,
          "name": "compute",
          "version": "c1",
        },
        {
          "channel": "lab",
          "firmware": "uefi",
          "image": "gpu",
          "members": 1,
          "name": "gpu",
          "version": "g1",
        },
        {
          "channel": "production",
          "firmware": "uefi",
          "image": "tiny",
          "members": 1,
          "name": "tiny",
          "version": "t1",
        },
        {
          "channel": "production",
          "firmware": "bios",
          "image": "gpu",
          "members": 1,
          "name": "login",
          "version": null,
        },
        {
          "channel": "nowhere",
          "firmware": "uefi",
          "image": "tiny",
          "members": 1,
          "name": "spare",
          "version": null,
        },
      ]
    `);
    expect(rendering.referenced).toMatchInlineSnapshot(`
      {
        "pxeforge/images/compute/c1/initrd.img": {
          "sha256": "c2",
          "size": 20,
        },
        "pxeforge/images/compute/c1/rootfs.squashfs": {
          "sha256": "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3",
          "size": 30,
        },
        "pxeforge/images/compute/c1/vmlinuz": {
          "sha256": "c1",
          "size": 10,
        },
        "pxeforge/images/gpu/g1/initrd.img": {
          "sha256": "g2",
          "size": 20,
        },
        "pxeforge/images/gpu/g1/vmlinuz": {
          "sha256": "g1",
          "size": 10,
        },
        "pxeforge/images/tiny/t1/initrd.img": {
          "sha256": "t2",
          "size": 20,
        },
        "pxeforge/images/tiny/t1/vmlinuz": {
          "sha256": "t1",
          "size": 10,
        },
      }
    `);
  });

  it('boots unknown nodes into a node group of either firmware', () => {
    expect(show(render({ unknownNodes: { action: 'group', group: 'compute' } }), unknownFiles)).toMatchInlineSnapshot(`
      "=== grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: group)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      set timeout=0
      menuentry 'compute@c1 (production)' {
        linux /pxeforge/images/compute/c1/vmlinuz root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
        initrd /pxeforge/images/compute/c1/initrd.img
      }

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      echo pxeforge: compute@c1 (production)
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/vmlinuz initrd=initrd.img root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/initrd.img
      boot

      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      DEFAULT pxeforge
      PROMPT 0
      LABEL pxeforge
        MENU LABEL compute@c1 (production)
        KERNEL /pxeforge/images/compute/c1/vmlinuz
        INITRD /pxeforge/images/compute/c1/initrd.img
        APPEND root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      "
    `);
    expect(show(render({ unknownNodes: { action: 'group', group: 'tiny' } }), unknownFiles)).toMatchInlineSnapshot(`
      "=== grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: group)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      set timeout=0
      menuentry 'tiny@t1 (production)' {
        linux /pxeforge/images/tiny/t1/vmlinuz pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.group=tiny pxeforge.channel=production
        initrd /pxeforge/images/tiny/t1/initrd.img
      }

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      echo pxeforge: tiny@t1 (production)
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/vmlinuz initrd=initrd.img pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.group=tiny pxeforge.channel=production
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/initrd.img
      boot

      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      DEFAULT pxeforge
      PROMPT 0
      LABEL pxeforge
        MENU LABEL tiny@t1 (production)
        KERNEL /pxeforge/images/tiny/t1/vmlinuz
        INITRD /pxeforge/images/tiny/t1/initrd.img
        APPEND pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.group=tiny pxeforge.channel=production
      "
    `);
  });

  it('boots unknown nodes locally when their default group serves nothing', () => {
    expect(show(render({ unknownNodes: { action: 'group', group: 'login' } }), unknownFiles)).toMatchInlineSnapshot(`
      "=== grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: group)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      exit

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      echo pxeforge: this node is in no node group; booting from local disk
      exit

      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: group)
      DEFAULT local
      PROMPT 0
      LABEL local
        MENU LABEL local disk
        LOCALBOOT 0
      "
    `);
  });

  it('boots unknown nodes into a group only when the action is group, not when a group is merely named', () => {
    const localboot = show(render({ unknownNodes: { action: 'localboot', group: 'compute' } }), unknownFiles);
    expect(localboot).toBe(show(render({ unknownNodes: { action: 'localboot', group: undefined } }), unknownFiles));
    expect(localboot).not.toContain('compute@c1');
    const menu = show(render({ unknownNodes: { action: 'menu', group: 'compute' } }), unknownFiles);
    expect(menu).toBe(show(render({ unknownNodes: { action: 'menu', group: undefined } }), unknownFiles));
  });

  it('offers unknown nodes a menu of everything served, channels and images in order, local disk by default', () => {
    expect(show(render({ unknownNodes: { action: 'menu', group: undefined } }), unknownFiles)).toMatchInlineSnapshot(`
      "=== grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: menu)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      set timeout=30
      set default=3
      menuentry 'gpu@g1 (lab)' {
        linux /pxeforge/images/gpu/g1/vmlinuz quiet pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.channel=lab
        initrd /pxeforge/images/gpu/g1/initrd.img
      }
      menuentry 'compute@c1 (production)' {
        linux /pxeforge/images/compute/c1/vmlinuz root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
        initrd /pxeforge/images/compute/c1/initrd.img
      }
      menuentry 'tiny@t1 (production)' {
        linux /pxeforge/images/tiny/t1/vmlinuz pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.channel=production
        initrd /pxeforge/images/tiny/t1/initrd.img
      }
      menuentry 'local disk' {
        exit
      }

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: menu)
      menu pxeforge: this node is in no node group
      item image0 gpu@g1 (lab)
      item image1 compute@c1 (production)
      item image2 tiny@t1 (production)
      item --default local local disk
      choose --timeout 30000 selected || goto local
      goto \${selected}
      :image0
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/gpu/g1/vmlinuz initrd=initrd.img quiet pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.channel=lab
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/gpu/g1/initrd.img
      boot
      :image1
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/vmlinuz initrd=initrd.img root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/initrd.img
      boot
      :image2
      kernel http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/vmlinuz initrd=initrd.img pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.channel=production
      initrd --name initrd.img http://10.0.0.1:8080/tftp/pxeforge/images/tiny/t1/initrd.img
      boot
      :local
      exit

      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: menu)
      DEFAULT local
      PROMPT 1
      TIMEOUT 300
      SAY pxeforge: this node is in no node group. Type a label, or wait for the local disk:
      SAY   image0: gpu@g1 (lab)
      SAY   image1: compute@c1 (production)
      SAY   image2: tiny@t1 (production)
      LABEL local
        MENU LABEL local disk
        LOCALBOOT 0
      LABEL image0
        MENU LABEL gpu@g1 (lab)
        KERNEL /pxeforge/images/gpu/g1/vmlinuz
        INITRD /pxeforge/images/gpu/g1/initrd.img
        APPEND quiet pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.channel=lab
      LABEL image1
        MENU LABEL compute@c1 (production)
        KERNEL /pxeforge/images/compute/c1/vmlinuz
        INITRD /pxeforge/images/compute/c1/initrd.img
        APPEND root=live:http://10.0.0.1:8080/tftp/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      LABEL image2
        MENU LABEL tiny@t1 (production)
        KERNEL /pxeforge/images/tiny/t1/vmlinuz
        INITRD /pxeforge/images/tiny/t1/initrd.img
        APPEND pxeforge.image=tiny pxeforge.version=t1 pxeforge.generation=7 pxeforge.channel=production
      "
    `);
  });

  it('offers a menu of nothing as a local boot', () => {
    const rendering = render({ nodeGroups: [], unknownNodes: { action: 'menu', group: undefined } }, { channels: {} });
    expect(show(rendering)).toMatchInlineSnapshot(`
      "=== boot.ipxe
      #!ipxe
      # pxeforge generation 7: each node chains the config of its MAC, or the unknown-node config.
      chain --autofree /pxeforge/generations/7/ipxe/\${netX/mac:hexhyp}.ipxe || goto unknown
      exit
      :unknown
      chain --autofree /pxeforge/generations/7/ipxe/unknown.ipxe

      === grub/grub.cfg
      # pxeforge generation 7: GRUB entry (unknownNodes: menu)
      # Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look
      # for it get there through this file.
      source /pxeforge/generations/7/grub/mac/\${net_default_mac}.cfg
      exit

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: menu)
      echo pxeforge: this node is in no node group; booting from local disk
      exit

      === pxelinux.cfg/default
      # pxeforge generation 7: a node in no node group (unknownNodes: menu)
      DEFAULT local
      PROMPT 0
      LABEL local
        MENU LABEL local disk
        LOCALBOOT 0
      "
    `);
    expect(rendering.groups).toEqual([]);
    expect(rendering.referenced).toEqual({});
  });

  it('without httpBaseUrl, iPXE fetches initramfs images over TFTP', () => {
    const rendering = render(
      {
        httpBaseUrl: undefined,
        nodeGroups: nodeGroups.filter((g) => g.name === 'gpu'),
        unknownNodes: { action: 'menu', group: undefined },
      },
      { channels: { lab: channels.lab } },
    );
    expect(show(rendering, (file) => file.endsWith('.ipxe'))).toMatchInlineSnapshot(`
      "=== boot.ipxe
      #!ipxe
      # pxeforge generation 7: each node chains the config of its MAC, or the unknown-node config.
      chain --autofree /pxeforge/generations/7/ipxe/\${netX/mac:hexhyp}.ipxe || goto unknown
      exit
      :unknown
      chain --autofree /pxeforge/generations/7/ipxe/unknown.ipxe

      ipxe/52-54-00-00-01-01.ipxe -> groups/gpu.ipxe
      === ipxe/groups/gpu.ipxe
      #!ipxe
      # pxeforge generation 7: node group gpu boots gpu@g1 (lab)
      echo pxeforge: gpu@g1 (lab)
      kernel /pxeforge/images/gpu/g1/vmlinuz initrd=initrd.img quiet nvidia.modeset=1 pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.group=gpu pxeforge.channel=lab
      initrd --name initrd.img /pxeforge/images/gpu/g1/initrd.img
      boot

      === ipxe/unknown.ipxe
      #!ipxe
      # pxeforge generation 7: a node in no node group (unknownNodes: menu)
      menu pxeforge: this node is in no node group
      item image0 gpu@g1 (lab)
      item --default local local disk
      choose --timeout 30000 selected || goto local
      goto \${selected}
      :image0
      kernel /pxeforge/images/gpu/g1/vmlinuz initrd=initrd.img quiet pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.channel=lab
      initrd --name initrd.img /pxeforge/images/gpu/g1/initrd.img
      boot
      :local
      exit
      "
    `);
  });

  it('gives the same files for the same input, byte for byte', () => {
    const site = { unknownNodes: { action: 'menu', group: undefined } } as const;
    expect(show(render(site))).toBe(show(render(site)));
  });

  it('trims trailing slashes of httpBaseUrl, however many', () => {
    const rendering = render({ httpBaseUrl: 'http://boot.example.org//', unknownNodes: { action: 'localboot', group: undefined } });
    expect(show(rendering, (file) => file === 'ipxe/groups/compute.ipxe')).toMatchInlineSnapshot(`
      "=== ipxe/groups/compute.ipxe
      #!ipxe
      # pxeforge generation 7: node group compute boots compute@c1 (production)
      echo pxeforge: compute@c1 (production)
      kernel http://boot.example.org/pxeforge/images/compute/c1/vmlinuz initrd=initrd.img root=live:http://boot.example.org/pxeforge/images/compute/c1/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 pxeforge.image=compute pxeforge.version=c1 pxeforge.generation=7 pxeforge.group=compute pxeforge.channel=production pxeforge.root_sha256=c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3
      initrd --name initrd.img http://boot.example.org/pxeforge/images/compute/c1/initrd.img
      boot
      "
    `);
  });

  it('refuses an httpBaseUrl a boot config cannot carry, wherever the character is', () => {
    for (const url of [
      'http://10.0.0.1/a b/',
      ' http://10.0.0.1',
      'http://10.0.0.1/"',
      'http://10.0.0.1/;reboot',
      'http://10.0.0.1/\nshell',
    ]) {
      expect(() => render({ httpBaseUrl: url, unknownNodes: { action: 'localboot', group: undefined } })).toThrow(
        `httpBaseUrl ${url} has characters a boot config cannot carry`,
      );
      // Also when only initramfs images are served: the iPXE URLs carry it too.
      expect(() =>
        render(
          {
            httpBaseUrl: url,
            nodeGroups: nodeGroups.filter((g) => g.name === 'gpu'),
            unknownNodes: { action: 'localboot', group: undefined },
          },
          { channels: { lab: channels.lab } },
        ),
      ).toThrow(`httpBaseUrl ${url} has characters a boot config cannot carry`);
    }
    const allowed = 'http://user@boot-1.example.org:8080/a_b/c,d=e+f%20~g/';
    const rendering = render({ httpBaseUrl: allowed, unknownNodes: { action: 'localboot', group: undefined } });
    expect(show(rendering, (file) => file === 'ipxe/groups/gpu.ipxe')).toContain(
      `initrd --name initrd.img ${allowed.slice(0, -1)}/pxeforge/images/gpu/g1/initrd.img`,
    );
  });

  it('refuses a squashfs image without httpBaseUrl, and a served version without a manifest', () => {
    expect(() => render({ httpBaseUrl: undefined, unknownNodes: { action: 'localboot', group: undefined } })).toThrow(
      'squashfs images need httpBaseUrl',
    );
    expect(() => render({ unknownNodes: { action: 'localboot', group: undefined } }, { versions: new Map() })).toThrow(
      'no manifest for compute@c1',
    );
  });

  it('refuses a command line over 2,048 bytes as the node gets it, and takes one of exactly 2,048', () => {
    // initrd=initrd.img + quiet + the group's kernelArgs + the pxeforge parameters: 18 + 6 + 2024 bytes.
    const parameters = ' pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.group=gpu pxeforge.channel=lab';
    const withArgs = (kernelArgs: string) =>
      render(
        {
          nodeGroups: [group('gpu', 'gpu', 'lab', 'uefi', kernelArgs, ['52:54:00:00:01:01'])],
          unknownNodes: { action: 'localboot', group: undefined },
        },
        { channels: { lab: channels.lab } },
      );
    const fits = `x=${'y'.repeat(2022 - parameters.length)}`;
    expect(show(withArgs(fits), (file) => file === 'grub/groups/gpu.cfg')).toContain(
      `linux /pxeforge/images/gpu/g1/vmlinuz quiet ${fits}${parameters}\n`,
    );
    const error = (() => {
      try {
        withArgs(`${fits}z`);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UserError);
    expect({
      code: (error as UserError).code,
      exitCode: (error as UserError).exitCode,
      message: (error as UserError).message,
      hint: (error as UserError).hint,
    }).toStrictEqual({
      code: 'CMDLINE_TOO_LONG',
      exitCode: 2,
      message:
        'gpu@g1 in lab: the kernel command line is 2049 bytes with the root URL and the pxeforge parameters, over the 2048 bytes boot loaders keep',
      hint: 'nothing was changed; shorten httpBaseUrl or the kernel parameters (recipe kernel.cmdline, node group kernelArgs)',
    });
  });

  it('counts the root URL of a squashfs image in the command line', () => {
    const longBase = `http://boot.example.org/${'p'.repeat(2000)}`;
    expect(() => render({ httpBaseUrl: longBase, unknownNodes: { action: 'localboot', group: undefined } })).toThrow(
      /^compute@c1 in production: the kernel command line is 2340 bytes with the root URL and the pxeforge parameters, over the 2048 bytes boot loaders keep$/,
    );
  });
});

describe('the pxeforge parameters of each config (docs/fleet.md)', () => {
  const cmdlineOf = (rendering: Rendering, file: string) => {
    const rendered = rendering.files.get(file);
    if (rendered?.kind !== 'file') throw new Error(`${file} is not a rendered file`);
    return /^\s*(?:APPEND|linux \S+|kernel \S+ initrd=initrd\.img(?: initrd=node\.cpio)?) (.*)$/m.exec(rendered.content)?.[1] ?? '';
  };
  const parameters = (cmdline: string) => cmdline.split(' ').filter((word) => word.startsWith('pxeforge.'));

  it("a member with node files gets its archive's digest after its group's parameters, in every boot loader", () => {
    const sha256 = 'f0'.repeat(32);
    const rendering = render(
      { unknownNodes: { action: 'localboot', group: undefined } },
      {
        nodeArchives: new Map([['52:54:00:00:00:01', { host: 'compute1', archive: `pxeforge/nodes/${sha256}.cpio`, sha256, size: 5 }]]),
      },
    );
    const group = [
      'pxeforge.image=compute',
      'pxeforge.version=c1',
      'pxeforge.generation=7',
      'pxeforge.group=compute',
      'pxeforge.channel=production',
      `pxeforge.root_sha256=${'c3'.repeat(32)}`,
    ];
    for (const file of ['ipxe/nodes/52-54-00-00-00-01.ipxe', 'pxelinux/nodes/52-54-00-00-00-01.cfg'])
      expect(parameters(cmdlineOf(rendering, file))).toEqual([...group, `pxeforge.nodefiles=${sha256}`]);
    // The other member shares the group's config, without one.
    expect(parameters(cmdlineOf(rendering, 'pxelinux/compute.cfg'))).toEqual(group);
  });

  it('a menu entry for unknown nodes names image, version, generation and channel, and no group', () => {
    const rendering = render({ unknownNodes: { action: 'menu', group: undefined } });
    const menu = rendering.files.get('ipxe/unknown.ipxe');
    expect(menu?.kind === 'file' && menu.content).toContain(
      'initrd=initrd.img quiet pxeforge.image=gpu pxeforge.version=g1 pxeforge.generation=7 pxeforge.channel=lab\n',
    );
  });

  it('refuses a name with characters a parameter cannot carry before anything is rendered', () => {
    expect(() =>
      render({
        nodeGroups: [group('bad group', 'tiny', 'production', 'bios', '', ['52:54:00:00:09:01'])],
        unknownNodes: { action: 'localboot', group: undefined },
      }),
    ).toThrow(/pxeforge\.group="bad group" has characters outside/);
  });
});
