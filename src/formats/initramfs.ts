import { lstat, lutimes, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import { run } from '../exec/run.js';
import { replaceWithSymlink } from '../rootfs/image-files.js';
import type { OutputFormat, PackOptions } from './format.js';
import { nodeInitProgram, nodeInitScript } from './node-programs.js';
import { compressorArgv, cpioArgv } from './pack-argv.js';

/**
 * The whole root as the initrd: the kernel unpacks it into RAM and boots it with systemd
 * (/init → pxeforge's init, which applies the node's own files, then execs /sbin/init). No HTTP
 * server is needed; the root travels with the kernel.
 */
export const initramfs: OutputFormat = {
  name: 'initramfs',
  hostTools: [
    { name: 'cpio', check: { program: 'cpio' }, package: 'cpio', neededFor: 'build', purpose: 'pack initramfs roots (newc)' },
    { name: 'zstd', check: { program: 'zstd' }, package: 'zstd', neededFor: 'build', purpose: 'zstd compression' },
    { name: 'xz', check: { program: 'xz' }, package: 'xz-utils', neededFor: 'build', purpose: 'xz compression' },
    { name: 'lz4', check: { program: 'lz4' }, package: 'lz4', neededFor: 'build', purpose: 'lz4 compression' },
    {
      name: 'getcap',
      check: { program: 'getcap' },
      package: 'libcap2-bin',
      neededFor: 'build',
      purpose: 'find file capabilities a cpio would drop',
    },
  ],
  artifacts: ['initrd.img'],
  packed: 'initrd.img',
  netbootInitrd: false,
  imageFiles: {},
  imagePrograms: { [nodeInitProgram]: nodeInitScript },
  keepsCapabilities: false,
  pack: packInitramfs,
  kernelParameters: [],
  rootUrlArtifact: undefined,
  needsHttp: false,
  rootCheck: { name: 'built-in: root is in RAM', run: 'findmnt -no FSTYPE /', match: '^(rootfs|tmpfs)$' },
  consoleFatalMarkers: [],
};

/**
 * The whole root as a compressed newc cpio the kernel unpacks into RAM and boots with
 * systemd (/init → pxeforge's init → /sbin/init). Entries are sorted and every timestamp is SOURCE_DATE_EPOCH,
 * so the same tree always gives the same bytes. cpio keeps no xattrs: file capabilities
 * would be lost silently, so they fail the build unless the recipe accepts it.
 */
export async function packInitramfs({ root, output, compression, acceptCapabilityLoss, epoch, tools }: PackOptions): Promise<void> {
  await replaceWithSymlink(root, '/init', nodeInitProgram);
  const capabilities = await filesWithCapabilities(root, tools);
  if (capabilities.length > 0 && !acceptCapabilityLoss) {
    throw new UserError('CAPABILITIES_LOST', `cpio cannot keep file capabilities, and these files have them: ${capabilities.join(', ')}`, {
      hint: 'set `output.acceptCapabilityLoss: true` (the programs then need root), or use `output.format: squashfs`',
    });
  }
  const entries = await listForCpio(root, epoch);
  const cpio = `${output}.cpio`;
  try {
    await run(cpioArgv(root, cpio), { ...tools, stage: 'pack', input: Buffer.from(entries.map((entry) => `${entry}\0`).join('')) });
    await run(compressorArgv(compression.algorithm, compression.level), {
      ...tools,
      stage: 'pack',
      stdinFile: cpio,
      stdoutFile: output,
    });
  } finally {
    await rm(cpio, { force: true });
  }
}

/**
 * Every entry below root in byte order, /boot's contents left out; timestamps set to `epoch`.
 * Entries are taken as they are (lstat, lutimes): a symlink is an entry, never followed.
 */
async function listForCpio(root: string, epoch: number): Promise<string[]> {
  const out: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const names = (await readdir(path.join(root, relative))).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const name of names) {
      const child = relative === '.' ? name : `${relative}/${name}`;
      const info = await lstat(path.join(root, child));
      if (info.isFile() && info.size >= 4 * 1024 ** 3) {
        throw new UserError('FILE_TOO_LARGE_FOR_CPIO', `/${child} is 4 GiB or larger; newc cpio cannot hold it`, {
          hint: 'use `output.format: squashfs`',
        });
      }
      await lutimes(path.join(root, child), epoch, epoch);
      out.push(child);
      if (info.isDirectory() && child !== 'boot') await walk(child);
    }
  };
  await walk('.');
  await lutimes(root, epoch, epoch);
  return ['.', ...out];
}

async function filesWithCapabilities(root: string, tools: PackOptions['tools']): Promise<string[]> {
  const { stdout } = await run(['getcap', '-r', root], { ...tools, stage: 'pack', capture: true });
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((file) => file.startsWith(root))
    .map((file) => `/${path.relative(root, file)}`);
}
