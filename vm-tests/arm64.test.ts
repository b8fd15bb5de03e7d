import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestReport } from '../src/boot-test/report.js';
import { grubNetDir } from './helpers/grub-net.js';
import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * An arm64 node on this amd64 host: tiny-arm64 is built through binfmt and qemu-user-static,
 * boot-tested directly (qemu-system-aarch64, virt machine, AAVMF from QEMU's firmware
 * descriptors, TCG), promoted, and booted from the tree as a member of an arm64 node group
 * does: UEFI loads the site's GRUB for arm64-efi, which reads the group's grub.cfg-01-<mac>.
 * An amd64 group that follows the same image is refused at validate and promote.
 */
let repo: TempRepo;
let tftp: string;
let grubEntry: string;
const site = `channels:
  staging: {}
  production: {}
nodeGroups:
  arm: { image: tiny-arm64, channel: staging, arch: arm64, macs: ["52:54:00:12:34:a1"] }
  x86: { image: tiny-arm64, channel: production, macs: ["52:54:00:12:34:a2"] }
`;

async function readReport(version: string): Promise<TestReport> {
  return JSON.parse(await readFile(path.join(repo.store, 'images/tiny-arm64', version, 'test-report.json'), 'utf8')) as TestReport;
}

const output = (report: TestReport, check: string) => report.checks.find((c) => c.name === check)?.output.trim();

beforeAll(async () => {
  repo = await tempRecipeRepo(site);
  tftp = path.join(path.dirname(repo.root), 'tftp');
  await repo.write(
    'recipes/tiny-arm64.yaml',
    `${await repo.read('recipes/tiny-arm64.yaml')}tests:\n  checks:\n    - { name: machine, run: "uname -m" }\n    - { name: kernel command line, run: "cat /proc/cmdline" }\n`,
  );
  await repo.git(['commit', '-qam', 'arm64 checks']);
  // The site's GRUB net image for arm64 nodes, beside pxeforge's tree (kept with the step cache).
  grubEntry = await grubNetDir(tftp, 'arm64-efi', repo.cache);
});
afterAll(async () => {
  await repo?.remove();
});

describe('an arm64 node, built and booted on an amd64 host', () => {
  it('builds tiny-arm64 under emulation, boots it directly and from the tree through GRUB, and refuses it for an amd64 group', async () => {
    const built = await repo.pxeforge(['build', 'recipes/tiny-arm64.yaml']);
    expect(built.exitCode, built.stdout + built.stderr).toBe(0);
    const version = /built tiny-arm64@(\S+) in/.exec(built.stdout)![1]!;
    const manifest = JSON.parse(await readFile(path.join(repo.store, 'images/tiny-arm64', version, 'manifest.json'), 'utf8')) as {
      recipe: { base: { arch: string } };
      kernel: { version: string };
      packages: { name: string; arch: string }[];
    };
    expect(manifest.recipe.base.arch).toBe('arm64');
    expect(manifest.kernel.version).toMatch(/-cloud-arm64$/);
    expect(manifest.packages.find((p) => p.name === 'systemd')?.arch).toBe('arm64');

    // Direct: the kernel and initrd handed to QEMU, booted by UEFI.
    let result = await repo.pxeforge(['test', `tiny-arm64@${version}`]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    let report = await readReport(version);
    expect(report.passed).toBe(true);
    expect(report.qemu.accel).toBe('tcg');
    expect(report.qemu.argv.slice(0, 3)).toEqual(['qemu-system-aarch64', '-machine', 'virt']);
    expect(report.qemu.argv.some((arg) => /^if=pflash,.*readonly=on,file=.*AAVMF/.test(arg))).toBe(true);
    expect(output(report, 'machine')).toBe('aarch64');
    const directSeconds = report.durationMs / 1000;

    // An amd64 group follows the image in production: validate names it, promote refuses it.
    const validate = await repo.pxeforge(['validate']);
    expect(validate.exitCode).toBe(2);
    expect(validate.stderr).toMatch(
      /pxeforge\.yaml:\d+:\d+: nodeGroups\.x86\.arch: node group `x86` is amd64, and its image `tiny-arm64` is built for arm64/,
    );
    const refused = await repo.pxeforge(['promote', `tiny-arm64@${version}`, '--channel', 'production']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(
      `tiny-arm64@${version} is built for arm64, and node group x86, which follows tiny-arm64 in production, is amd64`,
    );

    // From the tree, as the arm64 group's member: AAVMF → the site's GRUB (arm64-efi) → grub.cfg-01-<mac> → kernel and initrd over TFTP.
    const promoted = await repo.pxeforge(['promote', `tiny-arm64@${version}`, '--channel', 'staging', '--reason', 'vm-test']);
    expect(promoted.exitCode, promoted.stdout + promoted.stderr).toBe(0);
    result = await repo.pxeforge(['test', `tiny-arm64@${version}`, '--via', 'pxe', '--channel', 'staging', '--entry', grubEntry]);
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    report = await readReport(version);
    expect(report.passed).toBe(true);
    expect(report.tree).toMatchObject({ channel: 'staging', group: 'arm', mac: '52:54:00:12:34:a1', entry: 'grub/arm64-efi/core.efi' });
    expect(output(report, 'machine')).toBe('aarch64');
    expect(output(report, 'kernel command line')).toContain(`/pxeforge/images/tiny-arm64/${version}/vmlinuz`);
    expect(output(report, 'kernel command line')).toContain('pxeforge.group=arm');
    const verify = await repo.pxeforge(['verify']);
    expect(verify.exitCode, verify.stdout).toBe(0);
    console.log(
      `arm64 under TCG: direct boot test ${directSeconds.toFixed(0)} s, through GRUB from the tree ${(report.durationMs / 1000).toFixed(0)} s`,
    );
  });
});
