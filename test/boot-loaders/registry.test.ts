import { describe, expect, it } from 'vitest';

import type { BootTarget, ConfigCheck, RenderContext } from '../../src/boot-loaders/boot-loader.js';
import { ipxeBootScript, ipxeLoadLines } from '../../src/boot-loaders/ipxe.js';
import {
  bootLoaderNames,
  bootLoaderOfConfig,
  bootLoaders,
  entryDirs,
  getBootLoader,
  isEfiProgram,
} from '../../src/boot-loaders/registry.js';
import { UserError } from '../../src/errors/user-error.js';

const target: BootTarget = {
  label: 'compute@v1 (stable)',
  kernel: '/pxeforge/images/compute/v1/vmlinuz',
  initrd: '/pxeforge/images/compute/v1/initrd.img',
  cmdline: 'console=ttyS0',
};
const context: RenderContext = { generation: 7, generationPath: '/pxeforge/generations/7', httpBaseUrl: 'http://10.0.0.1/tftp/' };
const group = (firmware: 'bios' | 'uefi') => ({ name: 'rack1', firmware, macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'] });

function checker(): ConfigCheck & { referred: string[]; problems: string[]; notes: string[] } {
  const referred: string[] = [];
  const problems: string[] = [];
  const notes: string[] = [];
  return {
    referred,
    problems,
    notes,
    refer: (reference) => referred.push(reference),
    problem: (message) => problems.push(message),
    note: (message) => notes.push(message),
    generation: 7,
    generationPath: '/pxeforge/generations/7',
  };
}

describe('the boot loader registry', () => {
  it('resolves every name to the descriptor of that name, in rendering order', () => {
    expect(bootLoaderNames).toEqual(['ipxe', 'pxelinux', 'grub']);
    for (const name of bootLoaderNames) {
      expect(getBootLoader(name)).toBe(bootLoaders[name]);
      expect(getBootLoader(name).name).toBe(name);
    }
  });

  it('refuses an unknown name with a clear error', () => {
    expect(() => getBootLoader('syslinux-efi')).toThrow(UserError);
    expect(() => getBootLoader('syslinux-efi')).toThrow('unknown boot loader `syslinux-efi`');
  });

  it('says which firmware each boot loader serves', () => {
    expect(bootLoaders.ipxe.firmware).toEqual(['bios', 'uefi']);
    expect(bootLoaders.pxelinux.firmware).toEqual(['bios']);
    expect(bootLoaders.grub.firmware).toEqual(['uefi']);
  });

  it('gives the entry points, optional entries and entry directories', () => {
    expect(Object.values(bootLoaders).flatMap((loader) => loader.entryPoints)).toEqual([
      'boot.ipxe',
      'pxelinux.cfg/default',
      'grub/grub.cfg',
    ]);
    expect(Object.values(bootLoaders).flatMap((loader) => loader.optionalEntries)).toEqual(['pxelinux.cfg/default', 'grub/grub.cfg']);
    expect(entryDirs).toEqual(['.', 'pxelinux.cfg', 'grub']);
  });

  it('chooses the parser of a config by its boot loader', () => {
    expect(bootLoaderOfConfig('boot.ipxe')?.name).toBe('ipxe');
    expect(bootLoaderOfConfig('ipxe/groups/rack1.ipxe')?.name).toBe('ipxe');
    expect(bootLoaderOfConfig('pxelinux/rack1.cfg')?.name).toBe('pxelinux');
    expect(bootLoaderOfConfig('pxelinux.cfg/default')?.name).toBe('pxelinux');
    expect(bootLoaderOfConfig('grub/grub.cfg')?.name).toBe('grub');
    expect(bootLoaderOfConfig('notes.txt')).toBeUndefined();
  });

  it('knows an EFI program from a BIOS one', () => {
    expect(isEfiProgram('grub/x86_64-efi/core.efi')).toBe(true);
    expect(isEfiProgram('snponly.efi')).toBe(true);
    expect(isEfiProgram('pxelinux.0')).toBe(false);
    expect(isEfiProgram('boot.ipxe')).toBe(false);
  });
});

describe('iPXE', () => {
  it('has one writer of the kernel, initrd and boot lines, the boot test script included', () => {
    expect(ipxeLoadLines(target)).toEqual([
      'kernel /pxeforge/images/compute/v1/vmlinuz initrd=initrd.img console=ttyS0',
      'initrd --name initrd.img /pxeforge/images/compute/v1/initrd.img',
      'boot',
    ]);
    expect(ipxeLoadLines({ ...target, cmdline: '' })[0]).toBe('kernel /pxeforge/images/compute/v1/vmlinuz initrd=initrd.img');
    expect(
      ipxeBootScript({
        message: 'loading kernel and initrd',
        kernel: 'http://h/vmlinuz',
        initrd: 'http://h/initrd.img',
        cmdline: 'console=ttyS0',
      }),
    ).toBe(
      '#!ipxe\necho pxeforge: loading kernel and initrd\nkernel http://h/vmlinuz initrd=initrd.img console=ttyS0\ninitrd --name initrd.img http://h/initrd.img\nboot\n',
    );
  });

  it('renders a group config over HTTP and one link per member, with no entry per MAC', () => {
    const { files, entries } = bootLoaders.ipxe.renderGroup(group('bios'), target, 'header', context);
    expect(files).toEqual([
      [
        'ipxe/groups/rack1.ipxe',
        {
          kind: 'file',
          content: [
            '#!ipxe',
            '# header',
            'echo pxeforge: compute@v1 (stable)',
            'kernel http://10.0.0.1/tftp/pxeforge/images/compute/v1/vmlinuz initrd=initrd.img console=ttyS0',
            'initrd --name initrd.img http://10.0.0.1/tftp/pxeforge/images/compute/v1/initrd.img',
            'boot',
            '',
          ].join('\n'),
        },
      ],
      ['ipxe/52-54-00-00-00-01.ipxe', { kind: 'link', target: 'groups/rack1.ipxe' }],
      ['ipxe/52-54-00-00-00-02.ipxe', { kind: 'link', target: 'groups/rack1.ipxe' }],
    ]);
    expect(entries).toEqual([]);
  });

  it('parses its own configs', () => {
    const check = checker();
    for (const [file, rendered] of bootLoaders.ipxe.renderDefault({ header: 'h', target, menu: [] }, context)) {
      if (rendered.kind === 'file') bootLoaders.ipxe.checkConfig(file, rendered.content, check);
    }
    expect(check.problems).toEqual([]);
    expect(check.referred).toEqual([
      'http://10.0.0.1/tftp/pxeforge/images/compute/v1/vmlinuz',
      'http://10.0.0.1/tftp/pxeforge/images/compute/v1/initrd.img',
      '/pxeforge/generations/7/ipxe/unknown.ipxe',
    ]);
    bootLoaders.ipxe.checkConfig('x.ipxe', '#!ipxe\nsanboot foo\nchain /elsewhere.ipxe\n', check);
    expect(check.problems).toEqual([
      'x.ipxe:2: unknown iPXE command `sanboot`',
      'x.ipxe:3: chains /elsewhere.ipxe, not a config of generation 7',
    ]);
  });
});

describe('pxelinux', () => {
  it('renders a group config and one entry link per member', () => {
    const { files, entries } = bootLoaders.pxelinux.renderGroup(group('bios'), target, 'header', context);
    expect(files).toEqual([
      [
        'pxelinux/rack1.cfg',
        {
          kind: 'file',
          content: [
            '# header',
            'DEFAULT pxeforge',
            'PROMPT 0',
            'LABEL pxeforge',
            '  MENU LABEL compute@v1 (stable)',
            '  KERNEL /pxeforge/images/compute/v1/vmlinuz',
            '  INITRD /pxeforge/images/compute/v1/initrd.img',
            '  APPEND console=ttyS0',
            '',
          ].join('\n'),
        },
      ],
      ['pxelinux.cfg/01-52-54-00-00-00-01', { kind: 'link', target: '../pxelinux/rack1.cfg' }],
      ['pxelinux.cfg/01-52-54-00-00-00-02', { kind: 'link', target: '../pxelinux/rack1.cfg' }],
    ]);
    expect(entries).toEqual(['pxelinux.cfg/01-52-54-00-00-00-01', 'pxelinux.cfg/01-52-54-00-00-00-02']);
  });

  it('boots the local disk for an unknown node when nothing is on offer, and parses that', () => {
    const [[file, rendered]] = bootLoaders.pxelinux.renderDefault({ header: 'h', target: undefined, menu: [] }, context) as unknown as [
      [string, { content: string }],
    ];
    expect(file).toBe('pxelinux.cfg/default');
    expect(rendered.content).toBe('# h\nDEFAULT local\nPROMPT 0\nLABEL local\n  MENU LABEL local disk\n  LOCALBOOT 0\n');
    const check = checker();
    bootLoaders.pxelinux.checkConfig(file, rendered.content, check);
    expect(check.problems).toEqual([]);
    bootLoaders.pxelinux.checkConfig('pxelinux/x.cfg', 'DEFAULT y\nFOO bar\n', check);
    expect(check.problems).toEqual([
      'pxelinux/x.cfg:2: unknown pxelinux keyword `FOO`',
      'pxelinux/x.cfg: has no LABEL',
      'pxelinux/x.cfg: DEFAULT y is not one of its labels',
    ]);
  });
});

describe('GRUB', () => {
  it('renders a group config, an entry link per member and a link by MAC for the dispatcher', () => {
    const { files, entries } = bootLoaders.grub.renderGroup(group('uefi'), target, 'header', context);
    expect(files).toEqual([
      [
        'grub/groups/rack1.cfg',
        {
          kind: 'file',
          content: [
            '# header',
            'set timeout=0',
            "menuentry 'compute@v1 (stable)' {",
            '  linux /pxeforge/images/compute/v1/vmlinuz console=ttyS0',
            '  initrd /pxeforge/images/compute/v1/initrd.img',
            '}',
            '',
          ].join('\n'),
        },
      ],
      ['grub/grub.cfg-01-52-54-00-00-00-01', { kind: 'link', target: 'groups/rack1.cfg' }],
      ['grub/mac/52:54:00:00:00:01.cfg', { kind: 'link', target: '../groups/rack1.cfg' }],
      ['grub/grub.cfg-01-52-54-00-00-00-02', { kind: 'link', target: 'groups/rack1.cfg' }],
      ['grub/mac/52:54:00:00:00:02.cfg', { kind: 'link', target: '../groups/rack1.cfg' }],
    ]);
    expect(entries).toEqual(['grub/grub.cfg-01-52-54-00-00-00-01', 'grub/grub.cfg-01-52-54-00-00-00-02']);
  });

  it('renders the dispatcher that sources the config by MAC, and refers the files its configs name', () => {
    const [[file, rendered]] = bootLoaders.grub.renderDefault(
      { header: 'pxeforge generation 7: a node in no node group (unknownNodes: localboot)', target: undefined, menu: [] },
      context,
    ) as unknown as [[string, { content: string }]];
    expect(file).toBe('grub/grub.cfg');
    expect(rendered.content).toBe(
      [
        '# pxeforge generation 7: GRUB entry (unknownNodes: localboot)',
        '# Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look',
        '# for it get there through this file.',
        'source /pxeforge/generations/7/grub/mac/${net_default_mac}.cfg',
        'exit',
        '',
      ].join('\n'),
    );
    const check = checker();
    bootLoaders.grub.checkConfig('grub/groups/rack1.cfg', "menuentry 'x' {\n  linux /a/vmlinuz quiet\n  initrd /a/initrd.img\n}\n", check);
    expect(check.referred).toEqual(['/a/vmlinuz', '/a/initrd.img']);
  });
});
