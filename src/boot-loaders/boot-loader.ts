import type { HostTool } from '../exec/host-tool.js';
/** The firmware a node group boots with. */
export const firmwares = ['bios', 'uefi'] as const;
export type Firmware = (typeof firmwares)[number];

/** A rendered file of a generation: its content, or a symlink within the generation. */
export type RenderedFile = { kind: 'file'; content: string } | { kind: 'link'; target: string };

/** What a boot config loads: a versioned kernel and initrd (tree paths), and the whole command line. */
export interface BootTarget {
  label: string;
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** What a boot loader needs to know of a node group (narrow, so that boot loaders stay below the site config). */
export interface GroupToRender {
  name: string;
  firmware: Firmware;
  /** Member MACs, colon-separated as in pxeforge.yaml. */
  macs: readonly string[];
  /**
   * Members with node files: MAC → tree path of their archive (`/pxeforge/nodes/<sha256>.cpio`),
   * loaded as a second initrd. Such a member gets a config of its own; the others link to the group's.
   */
  nodeInitrds?: Readonly<Record<string, string>>;
  /** Members with node files: MAC → the command line of their own config (the group's, and their archive's digest). */
  nodeCmdlines?: Readonly<Record<string, string>>;
}

/** The target of a member's own config: the group's, with the member's command line when it has one. */
export function nodeTarget(group: GroupToRender, mac: string, target: BootTarget): BootTarget {
  const cmdline = group.nodeCmdlines?.[mac];
  return cmdline === undefined ? target : { ...target, cmdline };
}

/** The header of a member's own config. */
export function nodeHeader(header: string, mac: string): string {
  return `${header}, with the node files of ${mac}`;
}

export interface RenderContext {
  generation: number;
  /** Tree path of this generation's directory (`/pxeforge/generations/<n>`). */
  generationPath: string;
  httpBaseUrl: string | undefined;
}

/** What a node in no node group boots: one target, or a menu of every served one (empty: the local disk). */
export interface UnknownNodes {
  header: string;
  target: BootTarget | undefined;
  menu: readonly BootTarget[];
}

/** Files a boot loader renders: generation-relative path → file or link. */
export type RenderedFiles = [path: string, file: RenderedFile][];

/** Where a config check reports: a path the config names, or a problem. */
export interface ConfigCheck {
  refer: (reference: string, config: string) => void;
  problem: (message: string) => void;
  note: (message: string) => void;
  generation: number;
  generationPath: string;
}

/**
 * A boot loader: the configs it reads from the TFTP root, how pxeforge renders them for a
 * generation, and how `verify` parses them. Adding one is a new file beside ipxe.ts,
 * pxelinux.ts and grub.ts and one line in registry.ts.
 */
export interface BootLoader {
  name: string;
  /** What the tree needs of it on the admin host: its loader files for sites to serve, its config checker (doctor checks them). */
  hostTools: readonly HostTool[];
  /** The firmware of the node groups it boots (iPXE: every node, through boot.ipxe). */
  firmware: readonly Firmware[];
  /** A node group's config and its members' per-MAC links, and the entry points (per MAC) that lead to them. */
  renderGroup(
    group: GroupToRender,
    target: BootTarget,
    header: string,
    context: RenderContext,
  ): { files: RenderedFiles; entries: string[] };
  /** The config of a node in no node group, and the dispatcher files (those that are entry points). */
  renderDefault(unknown: UnknownNodes, context: RenderContext): RenderedFiles;
  /** Fixed entry points (tftp-root-relative), each resolving to the same generation-relative path. */
  entryPoints: readonly string[];
  /** Entry points a site may already own (its own default config): skipped then, not refused. */
  optionalEntries: readonly string[];
  /** Directories (tftp-root-relative) that hold its entry points. */
  entryDirs: readonly string[];
  /** Whether a generation-relative file is one of its configs. */
  ownsConfig(file: string): boolean;
  /** Parses one of its configs: every file it names is referred, every error a problem. */
  checkConfig(file: string, text: string, check: ConfigCheck): void;
  /** Checks all its configs at once with an outside tool, when it has one. */
  checkConfigs?(dir: string, files: readonly string[], check: ConfigCheck): Promise<void>;
  /** Whether an entry file (tftp-root-relative) is an EFI program, loaded by UEFI firmware. */
  isEfiProgram(entry: string): boolean;
}

/** The site's HTTP base URL as boot configs write it: checked for characters they cannot carry, no trailing slash. */
export function httpBase(url: string): string {
  if (!/^[A-Za-z0-9_.,:/=+@%~-]+$/.test(url)) throw new Error(`httpBaseUrl ${url} has characters a boot config cannot carry`);
  return url.replace(/\/+$/, '');
}

export function hyphenMac(mac: string): string {
  return mac.replaceAll(':', '-');
}
