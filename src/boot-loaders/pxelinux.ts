import { type BootLoader, type BootTarget, hyphenMac, nodeHeader, nodeTarget, type RenderedFiles } from './boot-loader.js';

const defaultConfig = 'pxelinux.cfg/default';
const keywords = new Set(['DEFAULT', 'PROMPT', 'TIMEOUT', 'SAY', 'LABEL', 'MENU', 'KERNEL', 'INITRD', 'APPEND', 'LOCALBOOT']);

/** One boot entry: a label that loads a target's kernel and initrd (and a node's archive after it) with its command line. */
function entry(label: string, t: BootTarget, nodeInitrd?: string): string[] {
  const initrds = nodeInitrd === undefined ? t.initrd : `${t.initrd},${nodeInitrd}`;
  return [`LABEL ${label}`, `  MENU LABEL ${t.label}`, `  KERNEL ${t.kernel}`, `  INITRD ${initrds}`, `  APPEND ${t.cmdline}`];
}

function pxelinuxBoot(header: string, t: BootTarget, nodeInitrd?: string): string {
  return [`# ${header}`, 'DEFAULT pxeforge', 'PROMPT 0', ...entry('pxeforge', t, nodeInitrd), ''].join('\n');
}

function pxelinuxMenu(header: string, targets: readonly BootTarget[]): string {
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
    ...targets.flatMap((t, i) => entry(`image${i}`, t)),
    '',
  ].join('\n');
}

/**
 * pxelinux boots BIOS node groups: `pxelinux/<group>.cfg`, one `pxelinux.cfg/01-<mac>` link
 * per member (an entry point), and `pxelinux.cfg/default` for a node in no group (a site may
 * keep its own).
 */
export const pxelinux: BootLoader = {
  name: 'pxelinux',
  hostTools: [
    {
      name: 'pxelinux.0',
      check: { file: '/usr/lib/PXELINUX/pxelinux.0' },
      package: 'pxelinux',
      neededFor: 'promote',
      purpose: 'BIOS network boot loader for the PXE tree',
    },
    {
      name: 'ldlinux.c32',
      check: { file: '/usr/lib/syslinux/modules/bios/ldlinux.c32' },
      package: 'syslinux-common',
      neededFor: 'promote',
      purpose: 'pxelinux core module',
    },
  ],
  firmware: ['bios'],
  renderGroup(group, target, header) {
    const files: RenderedFiles = [[`pxelinux/${group.name}.cfg`, { kind: 'file', content: pxelinuxBoot(header, target) }]];
    const entries: string[] = [];
    for (const mac of group.macs) {
      const entry = `pxelinux.cfg/01-${hyphenMac(mac)}`;
      const node = group.nodeInitrds?.[mac];
      if (node === undefined) files.push([entry, { kind: 'link', target: `../pxelinux/${group.name}.cfg` }]);
      else {
        const own = `pxelinux/nodes/${hyphenMac(mac)}.cfg`;
        files.push([own, { kind: 'file', content: pxelinuxBoot(nodeHeader(header, mac), nodeTarget(group, mac, target), node) }]);
        files.push([entry, { kind: 'link', target: `../${own}` }]);
      }
      entries.push(entry);
    }
    return { files, entries };
  },
  renderDefault(unknown) {
    return [
      [
        defaultConfig,
        {
          kind: 'file',
          content: unknown.target !== undefined ? pxelinuxBoot(unknown.header, unknown.target) : pxelinuxMenu(unknown.header, unknown.menu),
        },
      ],
    ];
  },
  entryPoints: [defaultConfig],
  optionalEntries: [defaultConfig],
  entryDirs: ['pxelinux.cfg'],
  ownsConfig: (file) => file.startsWith('pxelinux'),
  checkConfig(file, text, { refer, problem }) {
    let labels = 0;
    let defaultLabel: string | undefined;
    const names = new Set<string>();
    for (const [index, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const [keyword = '', ...rest] = line.split(/\s+/);
      if (!keywords.has(keyword.toUpperCase())) {
        problem(`${file}:${index + 1}: unknown pxelinux keyword \`${keyword}\``);
        continue;
      }
      const upper = keyword.toUpperCase();
      if (upper === 'LABEL') {
        labels += 1;
        names.add(rest[0] ?? '');
      }
      if (upper === 'DEFAULT') defaultLabel = rest[0];
      if (upper === 'KERNEL' || upper === 'INITRD') {
        if (rest[0] === undefined) problem(`${file}:${index + 1}: ${upper} names no file`);
        // INITRD a,b: several initrds, loaded in order.
        else for (const named of upper === 'INITRD' ? rest[0].split(',') : [rest[0]]) refer(named, file);
      }
    }
    if (labels === 0) problem(`${file}: has no LABEL`);
    if (defaultLabel === undefined || !names.has(defaultLabel))
      problem(`${file}: DEFAULT ${defaultLabel ?? '(none)'} is not one of its labels`);
  },
  // pxelinux.0 and lpxelinux.0 are BIOS programs.
  isEfiProgram: () => false,
};
