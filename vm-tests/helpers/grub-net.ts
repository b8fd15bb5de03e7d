import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { execa } from 'execa';

/**
 * A site's GRUB net image for UEFI nodes in a TFTP root (`grub/<platform>/core.efi`, made by
 * grub-mknetdir), as the site provides it beside pxeforge's tree.
 *
 * x86_64-efi comes from this host's grub-efi-amd64-bin. Debian builds grub-efi-arm64-bin for
 * arm64 only, so on an amd64 host its modules are extracted from the arm64 package (mmdebstrap's
 * `extract` variant: no maintainer scripts, nothing runs) into `cacheDir`, once, and
 * grub-mknetdir builds the arm64-efi image from them.
 */
export async function grubNetDir(tftp: string, platform: 'x86_64-efi' | 'arm64-efi', cacheDir: string): Promise<string> {
  const modules = platform === 'x86_64-efi' ? '/usr/lib/grub/x86_64-efi' : await arm64Modules(cacheDir);
  await execa('grub-mknetdir', [`--net-directory=${tftp}`, '--subdir=grub', '-d', modules]);
  return `grub/${platform}/core.efi`;
}

async function arm64Modules(cacheDir: string): Promise<string> {
  const root = path.join(cacheDir, 'grub-efi-arm64-bin');
  const modules = path.join(root, 'usr/lib/grub/arm64-efi');
  if (
    await access(path.join(modules, 'modinfo.sh')).then(
      () => true,
      () => false,
    )
  )
    return modules;
  const partial = `${root}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await execa(
    'mmdebstrap',
    [
      '--quiet',
      '--variant=extract',
      '--architectures=arm64',
      '--include=grub-efi-arm64-bin',
      '--format=directory',
      'bookworm',
      partial,
      await hostMirror(),
    ],
    { stdin: 'ignore' },
  );
  await rm(root, { recursive: true, force: true });
  await rename(partial, root);
  return modules;
}

/** The Debian mirror this host's apt uses (as the builds' `mirror: host`), else deb.debian.org. */
async function hostMirror(): Promise<string> {
  const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '');
  const uri = /^URIs:\s*(\S+)/m.exec(deb822)?.[1];
  if (uri !== undefined) return uri;
  const list = await readFile('/etc/apt/sources.list', 'utf8').catch(() => '');
  return /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(list)?.[1] ?? 'http://deb.debian.org/debian';
}
