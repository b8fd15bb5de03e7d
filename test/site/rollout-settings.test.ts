import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { recipeRepo } from '../../src/recipe/repo.js';
import { loadSiteTree } from '../../src/site/site-config.js';
import { copyFixtureRepo, validateSiteText } from '../helpers/cli.js';

/** `rollout:` of pxeforge.yaml: the reboot template, site checks and timeouts, every problem located. */
let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

const write = (text: string) => writeFile(path.join(repo.root, 'pxeforge.yaml'), text);
const load = () => loadSiteTree(recipeRepo(repo.root));
const located = (problems: { line?: number; column?: number; path: string; message: string }[]) =>
  problems.map((p) => `${p.line}:${p.column}: ${p.path}: ${p.message}`);

describe('rollout settings', () => {
  it('default to no reboot command, no site checks, 900 s of health and 120 s per reboot command', async () => {
    await write('tftpRoot: var/tftp\n');
    const { site, problems } = await load();
    expect(problems).toEqual([]);
    expect(site?.rollout).toEqual({ reboot: undefined, checks: [], healthTimeoutMs: 900_000, rebootTimeoutMs: 120_000 });
  });

  it('resolve the Slurm reboot command, site checks and timeouts', async () => {
    await write(
      [
        'rollout:',
        '  reboot: [scontrol, reboot, ASAP, nextstate=resume, reason=pxeforge-rollout, "{hosts}"]',
        '  checks:',
        '    - name: slurmd is running',
        '      run: systemctl is-active slurmd',
        '      expect: active',
        '  healthTimeoutSeconds: 600',
        '  rebootTimeoutSeconds: 30',
        '',
      ].join('\n'),
    );
    const { site, problems } = await load();
    expect(problems).toEqual([]);
    expect(site?.rollout).toEqual({
      reboot: ['scontrol', 'reboot', 'ASAP', 'nextstate=resume', 'reason=pxeforge-rollout', '{hosts}'],
      checks: [{ name: 'slurmd is running', run: 'systemctl is-active slurmd', expect: 'active' }],
      healthTimeoutMs: 600_000,
      rebootTimeoutMs: 30_000,
    });
  });

  it('per-node templates with placeholders inside an element are accepted', async () => {
    for (const reboot of [
      '[ssh, "root@{host}", systemctl, reboot]',
      '[ipmitool, -I, lanplus, -H, "{bmc}", -U, admin, -f, /etc/pxeforge/ipmi-pass, chassis, power, cycle]',
      '[/usr/local/sbin/reboot-node, "--mac={mac}", "--address={address}"]',
      '[curl, -sf, -d, \'{"ResetType":"ForceRestart"}\', "https://{bmc}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"]',
    ]) {
      await write(`rollout:\n  reboot: ${reboot}\n`);
      expect((await load()).problems).toEqual([]);
    }
  });

  it('template problems are located: an unknown placeholder, none at all, {hosts} mixed with a per-node one', async () => {
    await write('tftpRoot: var/tftp\nrollout:\n  reboot: [ssh, "root@{hostname}", systemctl, reboot]\n');
    expect(located((await load()).problems)).toEqual(['3:17: rollout.reboot[1]: unknown placeholder `{hostname}`']);

    await write('rollout:\n  reboot: [systemctl, reboot]\n');
    expect(located((await load()).problems)).toEqual(['2:11: rollout.reboot: the reboot command names no node']);

    await write('rollout:\n  reboot:\n    - scontrol\n    - reboot\n    - "{hosts}"\n    - "--bmc={bmc}"\n');
    const { site, problems } = await load();
    expect(site).toBeUndefined();
    expect(located(problems)).toEqual([
      '6:7: rollout.reboot[3]: `{hosts}` (one command per wave) is mixed with `{bmc}` (one command per node)',
    ]);
    expect(problems[0]!.hint).toMatch(/either `\{hosts\}` or the per-node placeholders/);
  });

  it('schema problems and check problems are located too', async () => {
    await write('rollout:\n  reboot: []\n  rebootTimeoutSeconds: 0\n  shell: true\n');
    expect(located((await load()).problems)).toEqual([
      '2:11: rollout.reboot: must be at least 1 entries, got a list',
      '3:25: rollout.rebootTimeoutSeconds: must be at least 1, got number 0',
      '4:3: rollout.shell: unknown key `shell`',
    ]);

    await write(
      [
        'rollout:',
        '  reboot: [ssh, "root@{host}", systemctl, reboot]',
        '  checks:',
        '    - { name: a, run: "true", match: "(a)\\\\1" }',
        '    - { name: a, run: "true", expect: x, match: x }',
        '',
      ].join('\n'),
    );
    expect(located((await load()).problems)).toEqual([
      expect.stringMatching(/^4:38: rollout\.checks\[0\]\.match: not a valid RE2 pattern/),
      '5:15: rollout.checks[1].name: two checks are named `a`',
      '5:7: rollout.checks[1]: a check takes `expect` (exact output) or `match` (regular expression), not both',
    ]);
  });

  it('`pxeforge validate` reports a template problem at its line and column, with the likely placeholder', async () => {
    const result = await validateSiteText(repo.root, 'rollout:\n  reboot: [scontrol, reboot, "{hots}"]\n');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('pxeforge.yaml:2:30: rollout.reboot[2]: unknown placeholder `{hots}`');
    expect(result.stderr).toContain('did you mean `{hosts}`?');
  });
});
