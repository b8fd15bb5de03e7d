import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { findUefiFirmware, firmwareDirs, globCoversMachine } from '../../src/arches/firmware.js';
import { arches } from '../../src/arches/registry.js';
import { UserError } from '../../src/errors/user-error.js';

/** Descriptor directories in a temp dir, lowest precedence first: the distribution's, the administrator's, the user's. */
let root: string;
let dirs: string[];
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pxeforge-firmware-'));
  dirs = ['share', 'etc', 'user'].map((name) => path.join(root, name));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(dir: number, name: string, content: unknown) {
  await mkdir(dirs[dir]!, { recursive: true });
  await writeFile(path.join(dirs[dir]!, name), typeof content === 'string' ? content : JSON.stringify(content));
}

/** A descriptor as the edk2 packages ship them. */
function descriptor(code: string, options: { arch?: string; machines?: string[]; features?: string[]; device?: string } = {}) {
  return {
    description: `firmware ${code}`,
    'interface-types': ['uefi'],
    mapping: {
      device: options.device ?? 'flash',
      executable: { filename: `/fw/${code}_CODE.fd`, format: 'raw' },
      'nvram-template': { filename: `/fw/${code}_VARS.fd`, format: 'raw' },
    },
    targets: [{ architecture: options.arch ?? 'x86_64', machines: options.machines ?? ['pc-i440fx-*', 'pc-q35-*'] }],
    features: options.features ?? ['acpi-s3', 'verbose-dynamic'],
    tags: [],
  };
}

async function failure(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

describe('UEFI firmware from QEMU firmware descriptors', () => {
  it("picks what Debian's ovmf describes for q35: the plain 4M build, not Secure Boot and not the SMM ones", async () => {
    await put(0, '40-edk2-x86_64-secure-enrolled.json', descriptor('MS', { features: ['enrolled-keys', 'requires-smm', 'secure-boot'] }));
    await put(0, '50-edk2-x86_64-secure.json', descriptor('SECBOOT', { features: ['requires-smm', 'secure-boot'] }));
    await put(0, '60-edk2-x86_64.json', descriptor('OVMF'));
    const firmware = await findUefiFirmware(arches.amd64, dirs);
    expect(firmware).toEqual({
      descriptor: path.join(dirs[0]!, '60-edk2-x86_64.json'),
      description: 'firmware OVMF',
      executable: { filename: '/fw/OVMF_CODE.fd', format: 'raw' },
      nvramTemplate: { filename: '/fw/OVMF_VARS.fd', format: 'raw' },
    });
  });

  it('takes the files in the order of their names across the directories', async () => {
    await put(0, '60-distro.json', descriptor('DISTRO'));
    await put(1, '50-admin.json', descriptor('ADMIN'));
    expect((await findUefiFirmware(arches.amd64, dirs)).executable.filename).toBe('/fw/ADMIN_CODE.fd');
  });

  it('a file of the same name in a later directory replaces the earlier one; an empty file hides it', async () => {
    await put(0, '50-x.json', descriptor('DISTRO'));
    await put(0, '60-y.json', descriptor('FALLBACK'));
    await put(1, '50-x.json', descriptor('ADMIN'));
    await put(2, '50-x.json', descriptor('USER'));
    expect((await findUefiFirmware(arches.amd64, dirs)).executable.filename).toBe('/fw/USER_CODE.fd');
    await put(2, '50-x.json', '');
    expect((await findUefiFirmware(arches.amd64, dirs)).executable.filename).toBe('/fw/FALLBACK_CODE.fd');
  });

  it('Secure Boot firmware when it is the only one (without SMM); others than .json files are ignored', async () => {
    await put(0, '10-secure.json', descriptor('SB', { features: ['secure-boot'] }));
    await put(0, '00-notes.txt', 'not a descriptor');
    expect((await findUefiFirmware(arches.amd64, dirs)).executable.filename).toBe('/fw/SB_CODE.fd');
  });

  it('the architecture and machine type must match: AAVMF for the virt machine of arm64', async () => {
    await put(0, '60-edk2-x86_64.json', descriptor('OVMF'));
    await put(0, '60-edk2-aarch64.json', descriptor('AAVMF', { arch: 'aarch64', machines: ['virt-*'] }));
    await put(0, '50-edk2-i440fx.json', descriptor('I440FX', { machines: ['pc-i440fx-*'] }));
    await put(0, '40-edk2-kernel.json', { ...descriptor('KERNEL'), mapping: { device: 'kernel', filename: '/fw/k' } });
    expect((await findUefiFirmware(arches.amd64, dirs)).executable.filename).toBe('/fw/OVMF_CODE.fd');
    expect((await findUefiFirmware(arches.arm64, dirs)).executable.filename).toBe('/fw/AAVMF_CODE.fd');
  });

  it('no firmware for this architecture: a missing tool, with the package to install', async () => {
    await put(0, '60-edk2-x86_64.json', descriptor('OVMF'));
    await put(0, '50-secure.json', descriptor('SECURE', { arch: 'aarch64', machines: ['virt-*'], features: ['requires-smm'] }));
    const error = await failure(findUefiFirmware(arches.arm64, dirs));
    expect({ code: error.code, hint: error.hint }).toEqual({ code: 'TOOL_MISSING', hint: 'apt-get install qemu-efi-aarch64' });
    expect(error.message).toMatch(/^no UEFI firmware for aarch64 \(virt machine\) among QEMU's firmware descriptors in .*\(1 need SMM/);
  });

  it('no descriptor directories at all: the same missing tool', async () => {
    const error = await failure(findUefiFirmware(arches.amd64, dirs));
    expect({ code: error.code, hint: error.hint }).toEqual({ code: 'TOOL_MISSING', hint: 'apt-get install ovmf' });
  });

  it.each([
    ['not JSON', '{ "interface-types": [', /is not valid: .*JSON/],
    ['without a mapping', { 'interface-types': ['uefi'], targets: [] }, /is not valid: .*mapping/],
    [
      'with an unknown flash format',
      { ...descriptor('X'), mapping: { device: 'flash', executable: { filename: '/x', format: 'vmdk' } } },
      /format/,
    ],
  ])('a malformed descriptor (%s) is an error that names the file', async (_, content, why) => {
    await put(0, '60-edk2-x86_64.json', descriptor('OVMF'));
    await put(1, '70-broken.json', content);
    const error = await failure(findUefiFirmware(arches.amd64, dirs));
    expect(error.code).toBe('BAD_FIRMWARE_DESCRIPTOR');
    expect(error.message).toContain(`QEMU firmware descriptor ${path.join(dirs[1]!, '70-broken.json')} is not valid: `);
    expect(error.message).toMatch(why);
  });

  it('the directories: the distribution, the administrator, then the user (XDG_CONFIG_HOME, else ~/.config)', () => {
    expect(firmwareDirs({ XDG_CONFIG_HOME: '/home/u/.cfg', HOME: '/home/u' })).toEqual([
      '/usr/share/qemu/firmware',
      '/etc/qemu/firmware',
      '/home/u/.cfg/qemu/firmware',
    ]);
    expect(firmwareDirs({ HOME: '/home/u' })[2]).toBe('/home/u/.config/qemu/firmware');
  });

  it.each([
    ['pc-q35-*', true],
    ['pc-q35-7.*', true],
    ['q35', true],
    ['pc-*', true],
    ['*', true],
    ['pc-i440fx-*', false],
    ['virt-*', false],
    ['pc-q35-', false],
  ])('machine glob %s covers q35: %s', (glob, covers) => {
    expect(globCoversMachine(glob, 'q35', 'pc-q35-')).toBe(covers);
  });
});
