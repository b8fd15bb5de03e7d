import { readFile } from 'node:fs/promises';
import path from 'node:path';

import which from 'which';

import { run } from '../exec/run.js';
import { ToolError } from '../exec/tool-error.js';
import { type BootLoader, type BootTarget, hyphenMac, nodeHeader, nodeTarget, type RenderedFiles } from './boot-loader.js';

const dispatcher = 'grub/grub.cfg';

function grubBoot(header: string, t: BootTarget, nodeInitrd?: string): string {
  return [
    `# ${header}`,
    'set timeout=0',
    `menuentry '${t.label}' {`,
    `  linux ${t.kernel} ${t.cmdline}`.trimEnd(),
    `  initrd ${t.initrd}${nodeInitrd === undefined ? '' : ` ${nodeInitrd}`}`,
    '}',
    '',
  ].join('\n');
}

function grubMenu(header: string, targets: readonly BootTarget[]): string {
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

/**
 * GRUB boots UEFI node groups: `grub/groups/<group>.cfg`, one `grub/grub.cfg-01-<mac>` link
 * per member (an entry point GRUB looks for), and `grub/grub.cfg`, which sources
 * `grub/mac/<mac>.cfg` for GRUB versions that do not look for the first (a site may keep its
 * own).
 */
export const grub: BootLoader = {
  name: 'grub',
  hostTools: [
    {
      name: 'grub-script-check',
      check: { program: 'grub-script-check' },
      package: 'grub-common',
      neededFor: 'promote',
      purpose: 'check generated GRUB configs',
    },
  ],
  firmware: ['uefi'],
  renderGroup(group, target, header) {
    const files: RenderedFiles = [[`grub/groups/${group.name}.cfg`, { kind: 'file', content: grubBoot(header, target) }]];
    const entries: string[] = [];
    for (const mac of group.macs) {
      const entry = `grub/grub.cfg-01-${hyphenMac(mac)}`;
      const node = group.nodeInitrds?.[mac];
      // A member with node files has its own config (its archive a second initrd); the others share the group's.
      const config = node === undefined ? `groups/${group.name}.cfg` : `nodes/${hyphenMac(mac)}.cfg`;
      if (node !== undefined)
        files.push([`grub/${config}`, { kind: 'file', content: grubBoot(nodeHeader(header, mac), nodeTarget(group, mac, target), node) }]);
      files.push([entry, { kind: 'link', target: config }]);
      files.push([`grub/mac/${mac}.cfg`, { kind: 'link', target: `../${config}` }]);
      entries.push(entry);
    }
    return { files, entries };
  },
  renderDefault(unknown, { generationPath }) {
    const { header, target, menu } = unknown;
    return [
      [
        dispatcher,
        {
          kind: 'file',
          content: [
            `# ${header.replace('a node in no node group', 'GRUB entry')}`,
            '# Nodes in a node group have their own grub.cfg-01-<mac>; GRUB versions that do not look',
            '# for it get there through this file.',
            `source ${generationPath}/grub/mac/\${net_default_mac}.cfg`,
            ...(target !== undefined ? grubBoot(header, target) : grubMenu(header, menu)).split('\n').slice(1),
          ].join('\n'),
        },
      ],
    ];
  },
  entryPoints: [dispatcher],
  optionalEntries: [dispatcher],
  entryDirs: ['grub'],
  ownsConfig: (file) => file.startsWith('grub/'),
  checkConfig(file, text, { refer }) {
    for (const match of text.matchAll(/^\s*linux\s+(\S+)/gm)) refer(match[1]!, file);
    // initrd a b: every initrd it names (the image's, then a node's archive).
    for (const match of text.matchAll(/^\s*initrd\s+(.+)$/gm)) for (const named of match[1]!.trim().split(/\s+/)) refer(named, file);
  },
  /** All GRUB configs go through grub-script-check in one run; one by one only to find a failing one. */
  async checkConfigs(dir, files, { problem, note }) {
    if (files.length === 0) return;
    if ((await which('grub-script-check', { nothrow: true })) === null) {
      note('grub-script-check is not installed (Debian package grub-common): GRUB configs were not parsed');
      return;
    }
    const check = (input: string) =>
      run(['grub-script-check'], { input, capture: true }).then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof ToolError) return error.message;
          throw error;
        },
      );
    const texts = await Promise.all(files.map((file) => readFile(path.join(dir, file), 'utf8')));
    if ((await check(texts.join('\n'))) === undefined) return;
    for (const [index, file] of files.entries()) {
      const failure = await check(texts[index]!);
      if (failure !== undefined) problem(`${file}: grub-script-check: ${failure.split('\n').slice(-3).join(' ')}`);
    }
  },
  // The site's GRUB net image (grub-mknetdir: grub/x86_64-efi/core.efi).
  isEfiProgram: (entry) => entry.endsWith('.efi'),
};
