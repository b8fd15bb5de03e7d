import { appendFile, chmod, mkdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { defaultSiteYaml, makeTreeSite, makeVersion, snapshotTree, type TreeSite } from '../helpers/tree-site.js';
import type { HistoryEntry, TreeState } from '../../src/promote/tree.js';

let site: TreeSite;
const cli = (...argv: string[]) => runCli(argv, site.repo);
const v1 = '20261125T100000Z-11111111';
const v2 = '20261125T110000Z-22222222';
const v3 = '20261125T120000Z-33333333';

beforeEach(async () => {
  site = await makeTreeSite();
});
afterEach(async () => {
  await site.remove();
});

async function history(): Promise<HistoryEntry[]> {
  const text = await readFile(path.join(site.tftp, 'pxeforge/history.jsonl'), 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as HistoryEntry);
}

async function currentState(): Promise<TreeState> {
  const target = await readlink(path.join(site.tftp, 'pxeforge/current'));
  return JSON.parse(await readFile(path.join(site.tftp, 'pxeforge', target, 'state.json'), 'utf8')) as TreeState;
}

/** Runs a command that must fail and checks the TFTP root did not change at all. */
async function refusedUnchanged(argv: string[], code: string, exitCode = 2) {
  const before = await snapshotTree(site.tftp);
  const result = await cli(...argv, '--json');
  const error = JSON.parse(result.stderr.trim().split('\n').at(-1)!) as { error: { code: string; message: string; hint?: string } };
  expect({ exit: result.exitCode, code: error.error.code }).toEqual({ exit: exitCode, code });
  expect(await snapshotTree(site.tftp)).toEqual(before);
  return error.error;
}

describe('promote, rollback, status, history', () => {
  it('promotes into a new generation, rolls back without copying, and records who, what and why', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await makeVersion(site.store, 'tiny', v2);
    let result = await cli('promote', `tiny@${v1}`, '--channel', 'staging', '--reason', 'first');
    expect(result.stderr).toContain('node group compute follows compute in production, which has never been promoted there');
    expect(result.stdout).toContain(`promoted tiny in staging: (nothing) -> ${v1} (generation 1)`);
    result = await cli('promote', `tiny@${v2}`, '--channel', 'staging');
    expect(result.stdout).toContain(`promoted tiny in staging: ${v1} -> ${v2} (generation 2, was 1)`);
    expect(await readlink(path.join(site.tftp, 'pxeforge/current'))).toBe('generations/2');

    const placed = path.join(site.tftp, 'pxeforge/images/tiny', v1, 'vmlinuz');
    const inodeBefore = (await stat(placed)).ino;
    result = await cli('rollback', 'tiny', '--channel', 'staging', '--reason', 'nodes hang at boot');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`rolled back tiny in staging: ${v2} -> ${v1} (generation 3, was 2)`);
    expect((await stat(placed)).ino).toBe(inodeBefore); // nothing copied
    // The store and the tree share the inode: placed by hard link.
    expect((await stat(path.join(site.store, 'images/tiny', v1, 'vmlinuz'))).ino).toBe(inodeBefore);

    const entries = await history();
    expect(entries.map((e) => [e.generation, e.action, e.channel, e.image, e.from, e.to, e.reason])).toEqual([
      [1, 'promote', 'staging', 'tiny', null, v1, 'first'],
      [2, 'promote', 'staging', 'tiny', v1, v2, null],
      [3, 'rollback', 'staging', 'tiny', v2, v1, 'nodes hang at boot'],
    ]);
    expect(entries[0]).toMatchObject({ user: expect.any(String), host: expect.any(String), commit: 'a'.repeat(40), forced: false });

    const status = await cli('status');
    expect(status.stdout).toContain(`tiny@${v1}  since`);
    expect(status.stdout).toMatch(/canary +1 node\(s\), bios, staging: tiny@20261125T100000Z-11111111/);
    expect(status.stdout).toMatch(/compute +2 node\(s\), bios, production: nothing yet/);
    const shown = await cli('history', '--channel', 'staging', '--last', '2');
    expect(shown.stdout.trim().split('\n')).toHaveLength(2);
    expect(shown.stdout).toContain('"nodes hang at boot"');
    expect((await cli('verify')).exitCode).toBe(0);
  });

  it('rolls back through earlier versions, and --to picks one the channel served', async () => {
    for (const v of [v1, v2, v3]) {
      await makeVersion(site.store, 'tiny', v);
      expect((await cli('promote', `tiny@${v}`, '--channel', 'staging')).exitCode).toBe(0);
    }
    expect((await cli('rollback', 'tiny', '--channel', 'staging')).exitCode).toBe(0);
    expect((await currentState()).channels.staging!.tiny!.version).toBe(v2);
    expect((await cli('rollback', 'tiny', '--channel', 'staging')).exitCode).toBe(0);
    expect((await currentState()).channels.staging!.tiny!.version).toBe(v1);
    await refusedUnchanged(['rollback', 'tiny', '--channel', 'staging'], 'NO_EARLIER_VERSION');
    expect((await cli('promote', `tiny@${v3}`, '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('rollback', 'tiny', '--channel', 'staging', '--to', v1)).exitCode).toBe(0);
    expect((await currentState()).channels.staging!.tiny!.version).toBe(v1);
    await refusedUnchanged(['rollback', 'tiny', '--channel', 'staging', '--to', v2], 'NO_EARLIER_VERSION');
  });

  it('promoting the version a channel already serves changes nothing', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    const before = await snapshotTree(site.tftp);
    const result = await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    expect(result.stdout).toContain(`nothing to do: channel staging already serves tiny@${v1}`);
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it('renders every firmware path of every node group with versioned paths only', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await makeVersion(site.store, 'compute', v2, { tested: 'passed' });
    await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    await cli('promote', `compute@${v2}`, '--channel', 'staging');
    expect((await cli('promote', `compute@${v2}`, '--channel', 'production')).exitCode).toBe(0);
    const tftp = (file: string) => readFile(path.join(site.tftp, file), 'utf8');
    // Entry points resolve through `current` to this generation's configs.
    expect(await tftp('pxelinux.cfg/01-52-54-00-00-10-01')).toContain(`KERNEL /pxeforge/images/compute/${v2}/vmlinuz`);
    expect(await tftp('pxelinux.cfg/01-52-54-00-00-10-01')).toContain(
      `APPEND root=live:http://10.0.2.2:8080/pxeforge/images/compute/${v2}/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200`,
    );
    expect(await tftp('grub/grub.cfg-01-52-54-00-00-10-03')).toContain(
      `linux /pxeforge/images/compute/${v2}/vmlinuz root=live:http://10.0.2.2:8080/pxeforge/images/compute/${v2}/rootfs.squashfs rd.live.image ip=dhcp console=ttyS0,115200 nouveau.modeset=0`,
    );
    expect(await tftp('boot.ipxe')).toContain('chain --autofree /pxeforge/generations/3/ipxe/${netX/mac:hexhyp}.ipxe');
    expect(await tftp('pxeforge/generations/3/ipxe/52-54-00-12-34-56.ipxe')).toContain(
      `kernel http://10.0.2.2:8080/pxeforge/images/tiny/${v1}/vmlinuz initrd=initrd.img console=ttyS0,115200`,
    );
    // No config of any generation names a moving alias.
    const snapshot = await snapshotTree(path.join(site.tftp, 'pxeforge/generations'));
    for (const [file, kind] of Object.entries(snapshot)) {
      if (kind.startsWith('file') && !file.endsWith('state.json'))
        expect(await readFile(path.join(site.tftp, 'pxeforge/generations', file), 'utf8')).not.toContain('current');
    }
    // A uefi group gets no pxelinux entry, a bios group no GRUB entry.
    await expect(stat(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-00-10-03'))).rejects.toThrow();
    await expect(stat(path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-00-10-01'))).rejects.toThrow();
    const verify = await cli('verify');
    expect(verify.stdout).toMatch(/^OK: generation 3, \d+ configs, 9 node links, 7 entry points, 5 artifacts/m);
  });

  it('a node that read its config before a switch still loads one consistent version', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await makeVersion(site.store, 'tiny', v2);
    await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    // The node reads its config (through the entry point) ...
    const config = await readFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'), 'utf8');
    // ... the channel switches and rolls forward again meanwhile ...
    await cli('promote', `tiny@${v2}`, '--channel', 'staging');
    // ... and every file its config names is still the v1 file it was promoted with.
    const named = [...config.matchAll(/^\s+(?:KERNEL|INITRD) (\S+)$/gm)].map((m) => m[1]!);
    expect(named).toEqual([`/pxeforge/images/tiny/${v1}/vmlinuz`, `/pxeforge/images/tiny/${v1}/initrd.img`]);
    const manifest = JSON.parse(await readFile(path.join(site.store, 'images/tiny', v1, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { size: number }>;
    };
    for (const file of named) expect((await stat(path.join(site.tftp, file))).size).toBe(manifest.artifacts[path.basename(file)]!.size);
    expect(await readFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'), 'utf8')).toContain(v2);
  });

  it('unknown nodes boot locally, a default group, or get a menu', async () => {
    await site.remove();
    site = await makeTreeSite((await import('../helpers/tree-site.js')).defaultSiteYaml('unknownNodes: { action: menu }\n'));
    await makeVersion(site.store, 'tiny', v1);
    await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    const ipxe = await readFile(path.join(site.tftp, 'pxeforge/generations/1/ipxe/unknown.ipxe'), 'utf8');
    expect(ipxe).toContain(`item image0 tiny@${v1} (staging)`);
    const pxelinux = await readFile(path.join(site.tftp, 'pxelinux.cfg/default'), 'utf8');
    expect(pxelinux).toContain('LABEL local');
    expect(pxelinux).toContain(`KERNEL /pxeforge/images/tiny/${v1}/vmlinuz`);
    expect((await cli('verify')).exitCode).toBe(0);
  });
});

describe('protected channels', () => {
  it('take only versions whose passing boot test covers exactly these artifacts', async () => {
    await makeVersion(site.store, 'compute', 'v-untested');
    await makeVersion(site.store, 'compute', 'v-failed', { tested: 'failed' });
    await makeVersion(site.store, 'compute', 'v-other', { tested: 'other-artifacts' });
    await makeVersion(site.store, 'compute', 'v-dirty', { tested: 'passed', dirty: true });
    await makeVersion(site.store, 'compute', 'v-good', { tested: 'passed' });
    expect((await refusedUnchanged(['promote', 'compute@v-untested', '--channel', 'production'], 'NOT_TESTED')).message).toContain(
      'it has no boot-test report',
    );
    expect((await refusedUnchanged(['promote', 'compute@v-failed', '--channel', 'production'], 'NOT_TESTED')).message).toContain('failed');
    expect((await refusedUnchanged(['promote', 'compute@v-other', '--channel', 'production'], 'NOT_TESTED')).message).toContain(
      'tested other artifacts (vmlinuz differ)',
    );
    expect((await refusedUnchanged(['promote', 'compute@v-dirty', '--channel', 'production'], 'DIRTY_BUILD')).hint).toContain(
      '--allow-dirty',
    );
    await refusedUnchanged(['promote', 'compute@v-untested', '--channel', 'production', '--force'], 'REASON_REQUIRED');
    expect((await cli('promote', 'compute@v-good', '--channel', 'production')).exitCode).toBe(0);
    expect((await cli('promote', 'compute@v-dirty', '--channel', 'production', '--allow-dirty')).exitCode).toBe(0);
    const forced = await cli(
      'promote',
      'compute@v-untested',
      '--channel',
      'production',
      '--force',
      '--reason',
      'security fix, tested by hand',
    );
    expect(forced.exitCode).toBe(0);
    expect(forced.stdout).toContain('recorded as FORCED');
    const entries = await history();
    expect(entries.map((e) => [e.to, e.forced, e.allowDirty])).toEqual([
      ['v-good', false, false],
      ['v-dirty', false, true],
      ['v-untested', true, false],
    ]);
    expect(entries[0]!.testReport).toMatch(/^[0-9a-f]{64}$/);
    expect((await cli('history')).stdout).toContain('[FORCED]');
    // Unprotected channels take untested versions.
    expect((await cli('promote', 'compute@v-untested', '--channel', 'staging')).exitCode).toBe(0);
  });
});

describe('bad input and faults leave the tree as it was', () => {
  beforeEach(async () => {
    await makeVersion(site.store, 'tiny', v1);
    await makeVersion(site.store, 'tiny', v2);
    expect((await cli('promote', `tiny@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
  });

  it('a tampered artifact in the store', async () => {
    const file = path.join(site.store, 'images/tiny', v2, 'initrd.img');
    await chmod(file, 0o644);
    await appendFile(file, 'x');
    const error = await refusedUnchanged(['promote', `tiny@${v2}`, '--channel', 'staging'], 'ARTIFACT_TAMPERED', 1);
    expect(error.message).toBe(`tiny@${v2}: initrd.img does not match the sha256 in its manifest`);
  });

  it('a version that does not exist, an unknown channel, an unknown image', async () => {
    expect(
      (await refusedUnchanged(['promote', 'tiny@20990101T000000Z-00000000', '--channel', 'staging'], 'NO_SUCH_VERSION')).hint,
    ).toContain(v2);
    expect((await refusedUnchanged(['promote', `tiny@${v2}`, '--channel', 'stagign'], 'UNKNOWN_CHANNEL')).hint).toBe(
      'did you mean `staging`?',
    );
    await refusedUnchanged(['promote', 'gpu@x', '--channel', 'staging'], 'NO_SUCH_IMAGE');
    await refusedUnchanged(['rollback', 'tiny', '--channel', 'production'], 'NOTHING_TO_ROLL_BACK');
    await refusedUnchanged(['rollback', 'tiny', '--channel', 'staging'], 'NO_EARLIER_VERSION');
  });

  it('a MAC listed in two node groups', async () => {
    const yaml = await readFile(path.join(site.repo, 'pxeforge.yaml'), 'utf8');
    await writeFile(
      path.join(site.repo, 'pxeforge.yaml'),
      yaml.replace('macs: ["52:54:00:12:34:56"]', 'macs: ["52:54:00:12:34:56", "52:54:00:00:10:01"]'),
    );
    const before = await snapshotTree(site.tftp);
    const result = await cli('promote', `tiny@${v2}`, '--channel', 'staging');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('pxeforge.yaml:');
    expect(result.stderr).toContain('nodeGroups.canary: MAC 52:54:00:00:10:01 is also in node group `compute`');
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it('a squashfs image without an HTTP base URL for its root', async () => {
    const yaml = await readFile(path.join(site.repo, 'pxeforge.yaml'), 'utf8');
    await writeFile(path.join(site.repo, 'pxeforge.yaml'), yaml.replace(/^httpBaseUrl: .*\n/m, ''));
    await makeVersion(site.store, 'compute', v3);
    await refusedUnchanged(['promote', `compute@${v3}`, '--channel', 'staging'], 'NO_HTTP_BASE_URL');
  });

  it('a node group naming an image never promoted boots as an unknown node, and says so', async () => {
    const result = await cli('promote', `tiny@${v2}`, '--channel', 'staging');
    expect(result.stderr).toContain(
      'node group gpu follows compute in staging, which has never been promoted there: its 1 node(s) boot as unknown nodes (localboot)',
    );
    await expect(stat(path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-00-10-03'))).rejects.toThrow();
    expect((await cli('status')).stdout).toMatch(/gpu +1 node\(s\), uefi, staging: nothing yet \(compute was never promoted to staging\)/);
  });

  it('a placed version that gc removed cannot be rolled back to', async () => {
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);
    await rm(path.join(site.tftp, 'pxeforge/images/tiny', v1), { recursive: true });
    const error = await refusedUnchanged(['rollback', 'tiny', '--channel', 'staging'], 'VERSION_NOT_PLACED', 1);
    expect(error.hint).toContain('promote it again');
  });
});

describe("do no harm to the site's own files", () => {
  it('refuses, listing every conflict, when the TFTP root holds files pxeforge would replace', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await mkdir(path.join(site.tftp, 'pxelinux.cfg'), { recursive: true });
    await mkdir(path.join(site.tftp, 'images/centos7'), { recursive: true });
    await writeFile(path.join(site.tftp, 'boot.ipxe'), '#!ipxe\nchain http://old-server/menu.ipxe\n');
    await writeFile(path.join(site.tftp, 'pxelinux.cfg/default'), 'DEFAULT menu\n');
    await writeFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'), 'DEFAULT old\n');
    await writeFile(path.join(site.tftp, 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'), 'DEFAULT other\n');
    await writeFile(path.join(site.tftp, 'images/centos7/vmlinuz'), 'kernel');
    await symlink('01-aa-bb-cc-dd-ee-ff', path.join(site.tftp, 'pxelinux.cfg/01-11-22-33-44-55-66'));
    const error = await refusedUnchanged(['promote', `tiny@${v1}`, '--channel', 'staging'], 'TREE_CONFLICT');
    expect(error.message).toBe(
      `the TFTP root already holds 2 file(s) pxeforge would have to replace:\n  ${site.tftp}/boot.ipxe\n  ${site.tftp}/pxelinux.cfg/01-52-54-00-12-34-56`,
    );
    expect(error.hint).toContain('never overwrites files it did not create');

    // Once the conflicting files are moved aside, the site's other files stay untouched.
    await rm(path.join(site.tftp, 'boot.ipxe'));
    await rm(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'));
    const before = await snapshotTree(site.tftp);
    const result = await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain("left the site's own pxelinux.cfg/default in place");
    const after = await snapshotTree(site.tftp);
    for (const [file, kind] of Object.entries(before)) expect(after[file], file).toBe(kind);
    expect((await cli('verify')).exitCode).toBe(0);
  });

  it('removes only its own entry points when nodes leave their groups', async () => {
    await makeVersion(site.store, 'tiny', v1);
    await mkdir(path.join(site.tftp, 'pxelinux.cfg'), { recursive: true });
    await writeFile(path.join(site.tftp, 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'), 'DEFAULT other\n');
    await cli('promote', `tiny@${v1}`, '--channel', 'staging');
    expect(await readlink(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'))).toBe(
      '../pxeforge/current/pxelinux.cfg/01-52-54-00-12-34-56',
    );
    const yaml = await readFile(path.join(site.repo, 'pxeforge.yaml'), 'utf8');
    await writeFile(path.join(site.repo, 'pxeforge.yaml'), yaml.replace('macs: ["52:54:00:12:34:56"]', 'macs: ["52:54:00:12:34:57"]'));
    const result = await cli('refresh', '--reason', 'canary node replaced');
    expect(result.exitCode).toBe(0);
    await expect(stat(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-56'))).rejects.toThrow();
    expect(await readFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-12-34-57'), 'utf8')).toContain(v1);
    expect(await readFile(path.join(site.tftp, 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'), 'utf8')).toBe('DEFAULT other\n');
    expect((await history()).at(-1)).toMatchObject({ action: 'refresh', reason: 'canary node replaced', channel: null });
  });
});

describe('the architecture a version is built for and the node groups that follow it', () => {
  it('promote refuses a version of another architecture than a group following it on that channel, and changes nothing', async () => {
    await site.remove();
    site = await makeTreeSite(
      defaultSiteYaml(`  arm:\n    image: tiny\n    channel: production\n    macs: ["52:54:00:00:20:01"]\n    arch: arm64\n`),
    );
    await makeVersion(site.store, 'tiny', v1, { arch: 'arm64', tested: 'passed' });
    await makeVersion(site.store, 'tiny', v2, { tested: 'passed' });
    expect((await cli('promote', `tiny@${v2}`, '--channel', 'staging')).exitCode).toBe(0);

    let error = await refusedUnchanged(['promote', `tiny@${v1}`, '--channel', 'staging'], 'ARCH_MISMATCH');
    expect(error.message).toBe(`tiny@${v1} is built for arm64, and node group canary, which follows tiny in staging, is amd64`);
    expect(error.hint).toBe(
      'nothing was changed. Promote a version built for amd64 (recipe `base.arch: amd64`), or set `arch: arm64` on node group canary in pxeforge.yaml if its nodes are arm64',
    );
    // A manifest without a recorded architecture is the recipe default, amd64.
    error = await refusedUnchanged(['promote', `tiny@${v2}`, '--channel', 'production'], 'ARCH_MISMATCH');
    expect(error.message).toBe(`tiny@${v2} is built for amd64, and node group arm, which follows tiny in production, is arm64`);

    const result = await cli('promote', `tiny@${v1}`, '--channel', 'production');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain(`promoted tiny in production: (nothing) -> ${v1}`);
  });
});
