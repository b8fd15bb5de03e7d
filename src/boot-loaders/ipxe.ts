import { type BootLoader, type BootTarget, httpBase, hyphenMac, nodeHeader, nodeTarget, type RenderedFiles } from './boot-loader.js';

const dispatcher = 'boot.ipxe';
const commands = new Set(['echo', 'kernel', 'initrd', 'boot', 'chain', 'exit', 'goto', 'menu', 'item', 'choose']);

/**
 * The lines that load a kernel and initrd and boot them. The one writer of them: the tree's
 * configs and the boot test's script both use it. The initrd is named `initrd.img` so that
 * UEFI kernels find it (`initrd=initrd.img`); a node's archive, when it has one, is a second
 * initrd named `node.cpio` (the kernel unpacks both, in order).
 */
export function ipxeLoadLines(target: Pick<BootTarget, 'kernel' | 'initrd' | 'cmdline'> & { nodeInitrd?: string }): string[] {
  const node = target.nodeInitrd;
  return [
    `kernel ${target.kernel} initrd=initrd.img ${node === undefined ? '' : 'initrd=node.cpio '}${target.cmdline}`.trimEnd(),
    `initrd --name initrd.img ${target.initrd}`,
    ...(node === undefined ? [] : [`initrd --name node.cpio ${node}`]),
    'boot',
  ];
}

/** An iPXE script that says what it loads, then loads the kernel and initrd and boots them. */
export function ipxeBootScript(options: {
  header?: string;
  message: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  nodeInitrd?: string;
}): string {
  return [
    '#!ipxe',
    ...(options.header === undefined ? [] : [`# ${options.header}`]),
    `echo pxeforge: ${options.message}`,
    ...ipxeLoadLines(options),
    '',
  ].join('\n');
}

function ipxeUrl(file: string, httpBaseUrl: string | undefined): string {
  // Over HTTP when the site serves the tree over HTTP (much faster than TFTP for big initrds).
  return httpBaseUrl === undefined ? file : `${httpBase(httpBaseUrl)}${file}`;
}

function overHttp(target: BootTarget, httpBaseUrl: string | undefined): BootTarget {
  return { ...target, kernel: ipxeUrl(target.kernel, httpBaseUrl), initrd: ipxeUrl(target.initrd, httpBaseUrl) };
}

function ipxeBoot(header: string, target: BootTarget, httpBaseUrl: string | undefined): string {
  return ipxeBootScript({ header, message: target.label, ...overHttp(target, httpBaseUrl) });
}

function ipxeMenu(header: string, targets: readonly BootTarget[], httpBaseUrl: string | undefined): string {
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
    ...targets.flatMap((t, i) => [`:image${i}`, ...ipxeLoadLines(overHttp(t, httpBaseUrl))]),
    ':local',
    'exit',
    '',
  ].join('\n');
}

/**
 * iPXE boots every node, BIOS or UEFI: the DHCP server hands out `boot.ipxe`, which chains
 * `ipxe/<mac>.ipxe` of its generation (a link to the node group's config), or
 * `ipxe/unknown.ipxe`.
 */
export const ipxe: BootLoader = {
  name: 'ipxe',
  hostTools: [
    {
      name: 'iPXE (undionly.kpxe, ipxe.efi)',
      check: { file: '/usr/lib/ipxe/undionly.kpxe' },
      package: 'ipxe',
      neededFor: 'promote',
      purpose: 'iPXE loaders chained from the PXE tree',
    },
  ],
  firmware: ['bios', 'uefi'],
  renderGroup(group, target, header, context) {
    const files: RenderedFiles = [
      [`ipxe/groups/${group.name}.ipxe`, { kind: 'file', content: ipxeBoot(header, target, context.httpBaseUrl) }],
    ];
    for (const mac of group.macs) {
      const node = group.nodeInitrds?.[mac];
      if (node === undefined) {
        files.push([`ipxe/${hyphenMac(mac)}.ipxe`, { kind: 'link', target: `groups/${group.name}.ipxe` }]);
        continue;
      }
      const own = ipxeBootScript({
        header: nodeHeader(header, mac),
        message: target.label,
        ...overHttp(nodeTarget(group, mac, target), context.httpBaseUrl),
        nodeInitrd: ipxeUrl(node, context.httpBaseUrl),
      });
      files.push([`ipxe/nodes/${hyphenMac(mac)}.ipxe`, { kind: 'file', content: own }]);
      files.push([`ipxe/${hyphenMac(mac)}.ipxe`, { kind: 'link', target: `nodes/${hyphenMac(mac)}.ipxe` }]);
    }
    return { files, entries: [] };
  },
  renderDefault(unknown, context) {
    const { generation, generationPath, httpBaseUrl } = context;
    return [
      [
        'ipxe/unknown.ipxe',
        {
          kind: 'file',
          content:
            unknown.target !== undefined
              ? ipxeBoot(unknown.header, unknown.target, httpBaseUrl)
              : ipxeMenu(unknown.header, unknown.menu, httpBaseUrl),
        },
      ],
      [
        dispatcher,
        {
          kind: 'file',
          content: [
            '#!ipxe',
            `# pxeforge generation ${generation}: each node chains the config of its MAC, or the unknown-node config.`,
            `chain --autofree ${generationPath}/ipxe/\${netX/mac:hexhyp}.ipxe || goto unknown`,
            'exit',
            ':unknown',
            `chain --autofree ${generationPath}/ipxe/unknown.ipxe`,
            '',
          ].join('\n'),
        },
      ],
    ];
  },
  entryPoints: [dispatcher],
  optionalEntries: [],
  entryDirs: ['.'],
  ownsConfig: (file) => file.endsWith('.ipxe'),
  checkConfig(config, text, { refer, problem, generation, generationPath }) {
    const lines = text.split('\n');
    if (lines[0] !== '#!ipxe') problem(`${config}: does not start with #!ipxe`);
    for (const [index, raw] of lines.entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || /^:[A-Za-z0-9_]+$/.test(line)) continue;
      const words = line.split(/\s+/);
      const command = words[0]!;
      if (!commands.has(command)) {
        problem(`${config}:${index + 1}: unknown iPXE command \`${command}\``);
        continue;
      }
      // kernel <file> args…; initrd [--name n] <file>; chain [--autofree] <file>
      const named = command === 'initrd' ? words.at(-1) : words.slice(1).find((word) => !word.startsWith('--'));
      if (command === 'kernel' || command === 'initrd') {
        if (named === undefined || words.length < 2) problem(`${config}:${index + 1}: \`${command}\` names no file`);
        else refer(named, config);
      }
      if (command === 'chain') {
        const target = named ?? '';
        const expected = `${generationPath}/ipxe/`;
        if (!target.startsWith(expected)) problem(`${config}:${index + 1}: chains ${target}, not a config of generation ${generation}`);
        else if (!target.includes('${')) refer(target, config);
      }
    }
  },
  // snponly.efi / ipxe.efi for UEFI; undionly.kpxe and the like for BIOS.
  isEfiProgram: (entry) => entry.endsWith('.efi'),
};
