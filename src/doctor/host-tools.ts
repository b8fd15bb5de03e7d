import { access } from 'node:fs/promises';

import which from 'which';

import { type Architecture, type ArchName, archNames, arches, defaultArch } from '../arches/registry.js';
import { bootLoaders } from '../boot-loaders/registry.js';
import { distros } from '../distros/registry.js';
import type { HostTool } from '../exec/host-tool.js';
import { formats } from '../formats/registry.js';
import { type BinfmtStatus, binfmtStatus, type ForeignBuildHost } from '../image/foreign-arch.js';

export type { HostTool } from '../exec/host-tool.js';

/**
 * What the pipeline needs on the admin host, gathered from the registries: every distro
 * backend, every output format, QEMU and its extras for this host's architecture, every boot
 * loader; then what the build and provenance need whatever the recipe.
 */
export const hostTools: readonly HostTool[] = [
  ...Object.values(distros).flatMap((distro) => distro.hostTools),
  ...Object.values(formats).flatMap((format) => format.hostTools),
  {
    name: 'mount',
    check: { program: 'mount' },
    package: 'mount',
    neededFor: 'build',
    purpose: 'bind /proc, /sys, /dev into the image root',
  },
  {
    name: 'chroot',
    check: { program: 'chroot' },
    package: 'coreutils',
    neededFor: 'build',
    purpose: 'run package scripts and hooks in the image root',
  },
  ...qemuTools(arches[defaultArch]),
  ...Object.values(bootLoaders).flatMap((loader) => loader.hostTools),
  { name: 'git', check: { program: 'git' }, package: 'git', neededFor: 'provenance', purpose: 'record the recipe commit in each version' },
];

/** QEMU for boot tests of an architecture, then what its boot tests need besides. */
function qemuTools(arch: Architecture): HostTool[] {
  const qemu: HostTool = {
    name: arch.qemu.binary,
    check: { program: arch.qemu.binary },
    package: arch.qemu.package,
    neededFor: 'boot test',
    purpose: 'boot the artifacts in a VM',
  };
  return [qemu, ...arch.hostTools];
}

export interface ToolStatus {
  tool: HostTool;
  found: string | undefined;
}

const sbinPath = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

export async function checkHostTools(tools: readonly HostTool[] = hostTools, envPath = process.env.PATH ?? ''): Promise<ToolStatus[]> {
  const searchPath = [envPath, ...sbinPath].filter((part) => part !== '').join(':');
  return Promise.all(
    tools.map(async (tool) => {
      if (!('program' in tool.check)) {
        const files = 'file' in tool.check ? [tool.check.file] : tool.check.anyFile;
        return { tool, found: await firstExisting(files) };
      }
      const found = await which(tool.check.program, { path: searchPath, nothrow: true });
      return { tool, found: found ?? undefined };
    }),
  );
}

async function firstExisting(files: readonly string[]): Promise<string | undefined> {
  for (const file of files) {
    if (
      await access(file).then(
        () => true,
        () => false,
      )
    )
      return file;
  }
  return undefined;
}

/** The one command that installs every missing tool. */
export function installCommand(statuses: readonly ToolStatus[]): string | undefined {
  const packages = [...new Set(statuses.filter((status) => status.found === undefined).map((status) => status.tool.package))].sort();
  return packages.length === 0 ? undefined : `apt-get install -y ${packages.join(' ')}`;
}

/**
 * What images of another architecture than the default need on this host, reported by doctor
 * beside the tools every site needs (a site without such images needs none of it): QEMU for
 * their boot tests, and, when the host is of another architecture, binfmt for their builds.
 */
export interface ArchSupport {
  arch: ArchName;
  tools: ToolStatus[];
  /** Undefined when this host is of that architecture (builds run natively). */
  binfmt: BinfmtStatus | undefined;
}

export async function checkOtherArches(host?: ForeignBuildHost, envPath?: string): Promise<ArchSupport[]> {
  const others = archNames.filter((name) => name !== defaultArch);
  return Promise.all(
    others.map(async (name) => {
      const arch = arches[name];
      return { arch: name, tools: await checkHostTools(qemuTools(arch), envPath), binfmt: await binfmtStatus(arch, host) };
    }),
  );
}
