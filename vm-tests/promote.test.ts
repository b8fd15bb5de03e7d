import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestReport } from '../src/boot-test/report.js';
import type { HistoryEntry } from '../src/promote/tree.js';
import { tempRecipeRepo, type TempRepo } from './helpers/recipe-repo.js';

/**
 * The promotion story with real images and real PXE boots from the rendered tree:
 * build → promote to staging → boot the staging tree through iPXE → promote to production →
 * build a second version with an overlay change → staging (booted through pxelinux) →
 * production → rollback → the production tree boots the first version's marker again.
 */
let repo: TempRepo;
let tftp: string;
const site = `channels:
  staging: {}
  production: { protected: true }
nodeGroups:
  canary: { image: story, channel: staging, macs: ["52:54:00:12:34:56"] }
  efi: { image: story, channel: staging, macs: ["52:54:00:12:34:99"], firmware: uefi }
  compute: { image: story, channel: production, macs: ["52:54:00:00:10:01", "52:54:00:00:10:02"] }
`;

async function build(): Promise<string> {
  const result = await repo.pxeforge(['build', 'recipes/story.yaml']);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  return /built story@(\S+) in/.exec(result.stdout)![1]!;
}

async function testViaTree(version: string, channel: string, entry = 'boot.ipxe', group?: string): Promise<TestReport> {
  const result = await repo.pxeforge([
    'test',
    `story@${version}`,
    '--via',
    'pxe',
    '--channel',
    channel,
    '--entry',
    entry,
    ...(group ? ['--group', group] : []),
  ]);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
  const report = JSON.parse(await readFile(path.join(repo.store, 'images/story', version, 'test-report.json'), 'utf8')) as TestReport;
  expect(report.passed).toBe(true);
  return report;
}

const output = (report: TestReport, check: string) => report.checks.find((c) => c.name === check)!.output.trim();

async function promote(version: string, channel: string): Promise<void> {
  const result = await repo.pxeforge(['promote', `story@${version}`, '--channel', channel, '--reason', 'vm-test']);
  expect(result.exitCode, result.stdout + result.stderr).toBe(0);
}

beforeAll(async () => {
  repo = await tempRecipeRepo(site);
  tftp = path.join(path.dirname(repo.root), 'tftp');
  await repo.write(
    'recipes/story.yaml',
    [
      'name: story',
      'extends: tiny',
      'overlays: [common, story]',
      'tests:',
      '  boot: { timeout: 400 }   # UEFI firmware and GRUB fetching the initrd over TFTP take a while under TCG',
      '  checks:',
      '    - { name: marker, run: "cat /etc/pxeforge-story" }',
      '    - { name: kernel command line, run: "cat /proc/cmdline" }',
      '',
    ].join('\n'),
  );
  await mkdir(path.join(repo.root, 'overlays/story/etc'), { recursive: true });
  await repo.write('overlays/story/etc/pxeforge-story', 'first\n');
  await repo.git(['add', '-A']);
  await repo.git(['commit', '-qm', 'story recipe']);
  // The site's own boot loader for BIOS nodes, beside pxeforge's tree.
  await mkdir(tftp, { recursive: true });
  await copyFile('/usr/lib/PXELINUX/pxelinux.0', path.join(tftp, 'pxelinux.0'));
  await copyFile('/usr/lib/syslinux/modules/bios/ldlinux.c32', path.join(tftp, 'ldlinux.c32'));
  // And its GRUB net image for UEFI nodes (grub/x86_64-efi/…); grub.cfg files are pxeforge's entry points.
  await execa('grub-mknetdir', [`--net-directory=${tftp}`, '--subdir=grub', '-d', '/usr/lib/grub/x86_64-efi']);
});
afterAll(async () => {
  await repo?.remove();
});

describe('promotion with real images and PXE boots from the tree', () => {
  it('staging, production, a second version, rollback: the node boots what the channel serves', async () => {
    const first = await build();
    await promote(first, 'staging');
    // A protected channel refuses a version no boot test has passed.
    const refused = await repo.pxeforge(['promote', `story@${first}`, '--channel', 'production']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('it has no boot-test report');

    let report = await testViaTree(first, 'staging');
    expect(report.tree).toMatchObject({ channel: 'staging', group: 'canary', mac: '52:54:00:12:34:56', entry: 'boot.ipxe' });
    expect(output(report, 'marker')).toBe('first');
    await promote(first, 'production');

    await repo.write('overlays/story/etc/pxeforge-story', 'second\n');
    await repo.git(['commit', '-qam', 'second marker']);
    const second = await build();
    expect(second).not.toBe(first);
    await promote(second, 'staging');
    // This time as a BIOS node whose firmware loads the site's pxelinux.0.
    report = await testViaTree(second, 'staging', 'pxelinux.0');
    expect(output(report, 'marker')).toBe('second');
    expect(output(report, 'kernel command line')).toContain(`BOOT_IMAGE=/pxeforge/images/story/${second}/vmlinuz`);
    // And as a UEFI node: OVMF loads the site's GRUB, which reads its grub.cfg-01-<mac> through `current`.
    report = await testViaTree(second, 'staging', 'grub/x86_64-efi/core.efi', 'efi');
    expect(report.tree).toMatchObject({ group: 'efi', mac: '52:54:00:12:34:99', entry: 'grub/x86_64-efi/core.efi' });
    expect(output(report, 'marker')).toBe('second');
    expect(output(report, 'kernel command line')).toContain(`/pxeforge/images/story/${second}/vmlinuz`);
    await promote(second, 'production');

    const rolled = await repo.pxeforge(['rollback', 'story', '--channel', 'production', '--reason', 'second misbehaves']);
    expect(rolled.exitCode, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`rolled back story in production: ${second} -> ${first}`);
    // The test refuses a version the channel does not serve ...
    const wrong = await repo.pxeforge(['test', `story@${second}`, '--via', 'pxe', '--channel', 'production']);
    expect(wrong.exitCode).toBe(2);
    expect(wrong.stderr).toContain(`channel \`production\` serves story@${first}, not ${second}`);
    // ... and a production node boots the first version again.
    report = await testViaTree(first, 'production');
    expect(report.tree).toMatchObject({ channel: 'production', group: 'compute', mac: '52:54:00:00:10:01' });
    expect(output(report, 'marker')).toBe('first');

    const verify = await repo.pxeforge(['verify']);
    expect(verify.exitCode, verify.stdout).toBe(0);
    const history = JSON.parse((await repo.pxeforge(['--json', 'history'])).stdout) as HistoryEntry[];
    expect(history.map((e) => [e.action, e.channel, e.from, e.to])).toEqual([
      ['promote', 'staging', null, first],
      ['promote', 'production', null, first],
      ['promote', 'staging', first, second],
      ['promote', 'production', first, second],
      ['rollback', 'production', second, first],
    ]);
    expect(history[1]!.testReport).toMatch(/^[0-9a-f]{64}$/);
    const status = await repo.pxeforge(['status']);
    expect(status.stdout).toContain(`story@${first}  since`);
    expect(status.stdout).toMatch(new RegExp(`compute +2 node\\(s\\), bios, production: story@${first}`));
  });
});
