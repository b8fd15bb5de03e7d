import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

import { z } from 'zod';

import { UserError } from '../errors/user-error.js';
import type { Architecture } from './architecture.js';

/**
 * UEFI firmware for a boot test, found the way QEMU's firmware interop specification
 * (docs/interop/firmware.json in QEMU) tells management tools to: JSON descriptors in
 * /usr/share/qemu/firmware (the distribution), /etc/qemu/firmware (the administrator) and
 * $XDG_CONFIG_HOME/qemu/firmware (the user). A file in a later directory replaces the one of
 * the same name in an earlier directory (an empty file only hides it); the files are then
 * taken in the order of their names, so `50-x.json` is preferred over `60-y.json`.
 */

const flashFile = z.object({ filename: z.string().min(1), format: z.enum(['raw', 'qcow2']) });

const mapping = z.discriminatedUnion('device', [
  z.object({
    device: z.literal('flash'),
    mode: z.enum(['split', 'combined', 'stateless']).default('split'),
    executable: flashFile,
    'nvram-template': flashFile.optional(),
  }),
  z.object({ device: z.literal('kernel'), filename: z.string() }),
  z.object({ device: z.literal('memory'), filename: z.string() }),
]);

/** The parts of a descriptor pxeforge reads (others are allowed and ignored). */
const descriptorSchema = z.object({
  description: z.string().default(''),
  'interface-types': z.array(z.string()),
  mapping,
  targets: z.array(z.object({ architecture: z.string(), machines: z.array(z.string()) })),
  features: z.array(z.string()).default([]),
});

type Descriptor = z.output<typeof descriptorSchema>;

export interface FlashImage {
  filename: string;
  format: 'raw' | 'qcow2';
}

export interface UefiFirmware {
  /** The descriptor file it was chosen from, and what that says of it. */
  descriptor: string;
  description: string;
  /** The code image, mapped read-only. */
  executable: FlashImage;
  /** The variable store template: a boot test boots with its own copy. */
  nvramTemplate: FlashImage;
}

/** Features that need more than a plain machine (SMM emulation) or that change what boots (Secure Boot, enrolled keys). */
const needsSmm = 'requires-smm';
const secureBoot = ['secure-boot', 'enrolled-keys'];

/** The descriptor directories, lowest precedence first. */
export function firmwareDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const config = env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config');
  return ['/usr/share/qemu/firmware', '/etc/qemu/firmware', path.join(config, 'qemu/firmware')];
}

/** The descriptor files in effect, in the order they are considered. */
export async function firmwareDescriptorFiles(dirs: readonly string[]): Promise<string[]> {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw error;
    });
    for (const entry of entries) if (entry.name.endsWith('.json')) byName.set(entry.name, path.join(dir, entry.name));
  }
  return [...byName.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((name) => byName.get(name)!);
}

async function readDescriptor(file: string): Promise<Descriptor | undefined> {
  const text = await readFile(file, 'utf8');
  // An empty file hides the descriptor of the same name in a directory of lower precedence.
  if (text.trim() === '') return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw badDescriptor(file, (error as Error).message);
  }
  const parsed = descriptorSchema.safeParse(data);
  if (!parsed.success) throw badDescriptor(file, z.prettifyError(parsed.error).replaceAll('\n', '; '));
  return parsed.data;
}

function badDescriptor(file: string, why: string): UserError {
  return new UserError('BAD_FIRMWARE_DESCRIPTOR', `QEMU firmware descriptor ${file} is not valid: ${why}`, {
    hint: 'fix or remove that file (see docs/interop/firmware.json in QEMU for the format)',
  });
}

/**
 * Whether a machine glob of a descriptor (`pc-q35-*`, `virt-8.*`) names the machine type:
 * the type itself, or a versioned name of it (`<machineVersions><version>`).
 */
export function globCoversMachine(glob: string, machine: string, machineVersions: string): boolean {
  const pattern = new RegExp(
    `^${glob
      .split('')
      .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/, '\\$&')))
      .join('')}$`,
  );
  if (pattern.test(machine)) return true;
  // Does the glob match some name that starts with the prefix of the versioned names?
  for (let i = 0; i < machineVersions.length; i += 1) {
    const ch = glob[i];
    if (ch === undefined) return false;
    if (ch === '*') return true;
    if (ch !== '?' && ch !== machineVersions[i]) return false;
  }
  return glob.length > machineVersions.length;
}

/**
 * The UEFI firmware QEMU offers for this architecture's machine: flash-mapped, split into
 * code and variable store, without SMM; without Secure Boot when there is such a one.
 */
export async function findUefiFirmware(
  arch: Pick<Architecture, 'kernelName' | 'qemu' | 'uefiPackage'>,
  dirs: readonly string[] = firmwareDirs(),
): Promise<UefiFirmware> {
  const candidates: UefiFirmware[] = [];
  const secure = new Set<UefiFirmware>();
  let smmOnly = 0;
  for (const file of await firmwareDescriptorFiles(dirs)) {
    const descriptor = await readDescriptor(file);
    if (descriptor === undefined || !descriptor['interface-types'].includes('uefi')) continue;
    const { mapping } = descriptor;
    if (mapping.device !== 'flash' || mapping.mode !== 'split' || mapping['nvram-template'] === undefined) continue;
    const fits = descriptor.targets.some(
      (target) =>
        target.architecture === arch.kernelName &&
        target.machines.some((glob) => globCoversMachine(glob, arch.qemu.machine, arch.qemu.machineVersions)),
    );
    if (!fits) continue;
    if (descriptor.features.includes(needsSmm)) {
      smmOnly += 1;
      continue;
    }
    const firmware = {
      descriptor: file,
      description: descriptor.description,
      executable: mapping.executable,
      nvramTemplate: mapping['nvram-template'],
    };
    candidates.push(firmware);
    if (descriptor.features.some((feature) => secureBoot.includes(feature))) secure.add(firmware);
  }
  const chosen = candidates.find((firmware) => !secure.has(firmware)) ?? candidates[0];
  if (chosen === undefined) {
    throw new UserError(
      'TOOL_MISSING',
      `no UEFI firmware for ${arch.kernelName} (${arch.qemu.machine} machine) among QEMU's firmware descriptors in ${dirs.join(', ')}${smmOnly > 0 ? ` (${smmOnly} need SMM, which the boot test does not emulate)` : ''}`,
      { hint: `apt-get install ${arch.uefiPackage}` },
    );
  }
  return chosen;
}
