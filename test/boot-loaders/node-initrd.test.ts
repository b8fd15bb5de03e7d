import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import type { BootTarget, ConfigCheck, RenderedFiles } from '../../src/boot-loaders/boot-loader.js';
import { ipxeLoadLines } from '../../src/boot-loaders/ipxe.js';
import { bootLoaders } from '../../src/boot-loaders/registry.js';

const target: BootTarget = {
  label: 'compute@v1 (staging)',
  kernel: '/pxeforge/images/compute/v1/vmlinuz',
  initrd: '/pxeforge/images/compute/v1/initrd.img',
  cmdline: 'console=ttyS0,115200',
};
const archive = `/pxeforge/nodes/${'e'.repeat(64)}.cpio`;
const group = {
  name: 'compute',
  firmware: 'bios' as const,
  macs: ['52:54:00:00:10:01', '52:54:00:00:10:02'],
  nodeInitrds: { '52:54:00:00:10:01': archive },
};
const context = { generation: 4, generationPath: '/pxeforge/generations/4', httpBaseUrl: undefined };

function checked(file: string, text: string, loader: (typeof bootLoaders)[keyof typeof bootLoaders]) {
  const referred: string[] = [];
  const problems: string[] = [];
  const check: ConfigCheck = {
    refer: (reference) => referred.push(reference),
    problem: (message) => problems.push(message),
    note: () => undefined,
    generation: 4,
    generationPath: '/pxeforge/generations/4',
  };
  loader.checkConfig(file, text, check);
  return { referred, problems };
}

const fileOf = (files: RenderedFiles, name: string) => {
  const found = files.find(([file]) => file === name)?.[1];
  if (found?.kind !== 'file') throw new Error(`${name} is not a rendered file`);
  return found.content;
};
const linkOf = (files: RenderedFiles, name: string) => files.find(([file]) => file === name)?.[1];

describe('a member with a node archive: its own config with two initrds', () => {
  it('iPXE: ipxeLoadLines names node.cpio on the kernel line and loads it after the image initrd', () => {
    expect(ipxeLoadLines({ ...target, nodeInitrd: archive })).toEqual([
      `kernel ${target.kernel} initrd=initrd.img initrd=node.cpio console=ttyS0,115200`,
      `initrd --name initrd.img ${target.initrd}`,
      `initrd --name node.cpio ${archive}`,
      'boot',
    ]);
    expect(ipxeLoadLines(target)).toEqual([
      `kernel ${target.kernel} initrd=initrd.img console=ttyS0,115200`,
      `initrd --name initrd.img ${target.initrd}`,
      'boot',
    ]);
    const { files } = bootLoaders.ipxe.renderGroup(group, target, 'header', context);
    expect(linkOf(files, 'ipxe/52-54-00-00-10-01.ipxe')).toEqual({ kind: 'link', target: 'nodes/52-54-00-00-10-01.ipxe' });
    expect(linkOf(files, 'ipxe/52-54-00-00-10-02.ipxe')).toEqual({ kind: 'link', target: 'groups/compute.ipxe' });
    const own = fileOf(files, 'ipxe/nodes/52-54-00-00-10-01.ipxe');
    expect(checked('ipxe/nodes/52-54-00-00-10-01.ipxe', own, bootLoaders.ipxe)).toEqual({
      referred: [target.kernel, target.initrd, archive],
      problems: [],
    });
  });

  it('pxelinux: INITRD a,b, each referred', () => {
    const { files, entries } = bootLoaders.pxelinux.renderGroup(group, target, 'header', context);
    expect(entries).toEqual(['pxelinux.cfg/01-52-54-00-00-10-01', 'pxelinux.cfg/01-52-54-00-00-10-02']);
    expect(linkOf(files, 'pxelinux.cfg/01-52-54-00-00-10-01')).toEqual({ kind: 'link', target: '../pxelinux/nodes/52-54-00-00-10-01.cfg' });
    expect(linkOf(files, 'pxelinux.cfg/01-52-54-00-00-10-02')).toEqual({ kind: 'link', target: '../pxelinux/compute.cfg' });
    const own = fileOf(files, 'pxelinux/nodes/52-54-00-00-10-01.cfg');
    expect(own).toContain(`  INITRD ${target.initrd},${archive}\n`);
    expect(checked('pxelinux/nodes/52-54-00-00-10-01.cfg', own, bootLoaders.pxelinux)).toEqual({
      referred: [target.kernel, target.initrd, archive],
      problems: [],
    });
  });

  it('GRUB: initrd a b, each referred, and grub-script-check accepts it', () => {
    const { files } = bootLoaders.grub.renderGroup({ ...group, firmware: 'uefi' }, target, 'header', context);
    expect(linkOf(files, 'grub/grub.cfg-01-52-54-00-00-10-01')).toEqual({ kind: 'link', target: 'nodes/52-54-00-00-10-01.cfg' });
    expect(linkOf(files, 'grub/mac/52:54:00:00:10:01.cfg')).toEqual({ kind: 'link', target: '../nodes/52-54-00-00-10-01.cfg' });
    expect(linkOf(files, 'grub/grub.cfg-01-52-54-00-00-10-02')).toEqual({ kind: 'link', target: 'groups/compute.cfg' });
    const own = fileOf(files, 'grub/nodes/52-54-00-00-10-01.cfg');
    expect(own).toContain(`  initrd ${target.initrd} ${archive}\n`);
    expect(checked('grub/nodes/52-54-00-00-10-01.cfg', own, bootLoaders.grub)).toEqual({
      referred: [target.kernel, target.initrd, archive],
      problems: [],
    });
    execFileSync('grub-script-check', [], { input: own });
  });
});
