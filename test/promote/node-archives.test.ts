import { appendFile, lstat, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { invalidInput } from '../../src/errors/user-error.js';
import type { ComputeNodeFilesOptions } from '../../src/nodes/compute.js';
import type { NodeFiles } from '../../src/nodes/node-file.js';
import type { SiteTree } from '../../src/site/site-config.js';
import type { TreeState } from '../../src/promote/tree.js';
import { runCli } from '../helpers/cli.js';
import { nodeFile } from '../helpers/node-archive.js';
import { makeTreeSite, makeVersion, snapshotTree, type TreeSite } from '../helpers/tree-site.js';

/**
 * The tree's side of node files with node files made here: computeNodeFiles stands in for the
 * site config's node file sets (its own tests cover those), everything after it is real.
 */
const compute = vi.hoisted(() => ({
  make: undefined as undefined | ((site: SiteTree, options: ComputeNodeFilesOptions) => NodeFiles[]),
  calls: [] as ComputeNodeFilesOptions[],
}));
vi.mock('../../src/nodes/compute.js', () => ({
  computeNodeFiles: async (site: SiteTree, options: ComputeNodeFilesOptions) => {
    compute.calls.push(options);
    return compute.make?.(site, options) ?? [];
  },
}));

const secret = 'MUNGE-SECRET-7f3a9c';
let motd = 'welcome';
let extra: Record<string, string> = {};

/** Each member with a host name of a served group: its hostname, a motd, and a secret. */
function nodeFiles(site: SiteTree, options: ComputeNodeFilesOptions): NodeFiles[] {
  const out: NodeFiles[] = [];
  for (const group of site.nodeGroups) {
    if (options.served(group.name) === undefined) continue;
    for (const member of group.members) {
      if (member.host === undefined) continue;
      const file = nodeFile;
      out.push({
        host: member.host,
        mac: member.mac,
        group: group.name,
        files: [
          file('/etc/hostname', `${member.host}${extra[member.host] ?? ''}\n`),
          file('/etc/motd', `${motd}\n`),
          file('/etc/munge/munge.key', secret, { mode: 0o400, uid: 105, gid: 107, secret: true }),
        ],
      });
    }
  }
  return out;
}

let site: TreeSite;
const cli = (...argv: string[]) => runCli(argv, site.repo);
const gen = (n: number, file: string) => path.join(site.tftp, 'pxeforge/generations', String(n), file);
const state = async (n: number) => JSON.parse(await readFile(gen(n, 'state.json'), 'utf8')) as TreeState;
const mac1 = '52:54:00:00:10:01';
const mac2 = '52:54:00:00:10:02';
const mac3 = '52:54:00:00:10:03';

beforeEach(async () => {
  compute.make = nodeFiles;
  compute.calls = [];
  motd = 'welcome';
  extra = {};
  site = await makeTreeSite();
  await makeVersion(site.store, 'compute', 'c1', { tested: 'passed' });
  await makeVersion(site.store, 'compute', 'c2', { tested: 'passed' });
  await makeVersion(site.store, 'tiny', 't1');
});
afterEach(async () => {
  await site.remove();
});

async function promote(reference: string, channel: string) {
  const result = await cli('promote', reference, '--channel', channel);
  expect(result.stderr).not.toMatch(/^error/m);
  expect(result.exitCode).toBe(0);
}

describe('node archives in the tree', () => {
  it('each node with files gets its archive and its own configs loading it as a second initrd; verify checks them', async () => {
    await promote('compute@c1', 'production'); // compute group: cn001, cn002 (BIOS: iPXE, pxelinux)
    await promote('compute@c1', 'staging'); // gpu group: cn003 (UEFI: iPXE, GRUB)
    await promote('tiny@t1', 'staging'); // canary: a MAC without a host, no node files
    const s = await state(3);
    expect(Object.keys(s.nodes ?? {}).sort()).toEqual([mac1, mac2, mac3]);
    const archive = s.nodes![mac1]!.archive;
    expect(archive).toMatch(/^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/);
    expect(s.files[archive]).toEqual({ sha256: path.basename(archive, '.cpio'), size: (await stat(path.join(site.tftp, archive))).size });
    expect((await stat(path.join(site.tftp, archive))).mode & 0o777).toBe(0o644);
    expect(await readdir(path.join(site.tftp, 'pxeforge/nodes'))).toHaveLength(3);

    // iPXE over HTTP (the site has httpBaseUrl), with both initrds named on the kernel line.
    const ipxe = await readFile(gen(3, 'ipxe/nodes/52-54-00-00-10-01.ipxe'), 'utf8');
    expect(ipxe).toContain('kernel http://10.0.2.2:8080/pxeforge/images/compute/c1/vmlinuz initrd=initrd.img initrd=node.cpio root=live:');
    expect(ipxe).toContain('initrd --name initrd.img http://10.0.2.2:8080/pxeforge/images/compute/c1/initrd.img\n');
    expect(ipxe).toContain(`initrd --name node.cpio http://10.0.2.2:8080/${archive}\nboot\n`);
    expect(await readlink(gen(3, 'ipxe/52-54-00-00-10-01.ipxe'))).toBe('nodes/52-54-00-00-10-01.ipxe');
    // pxelinux: INITRD a,b; the member's entry point resolves to its own config.
    expect(await readFile(gen(3, 'pxelinux/nodes/52-54-00-00-10-02.cfg'), 'utf8')).toContain(
      `  INITRD /pxeforge/images/compute/c1/initrd.img,/${s.nodes![mac2]!.archive}\n`,
    );
    expect(await readFile(path.join(site.tftp, 'pxelinux.cfg/01-52-54-00-00-10-02'), 'utf8')).toContain(s.nodes![mac2]!.archive);
    // GRUB: initrd a b, through both of GRUB's ways in.
    const grub = await readFile(gen(3, 'grub/nodes/52-54-00-00-10-03.cfg'), 'utf8');
    expect(grub).toContain(`  initrd /pxeforge/images/compute/c1/initrd.img /${s.nodes![mac3]!.archive}\n`);
    expect(await readFile(path.join(site.tftp, 'grub/grub.cfg-01-52-54-00-00-10-03'), 'utf8')).toBe(grub);
    expect(await readFile(gen(3, `grub/mac/${mac3}.cfg`), 'utf8')).toBe(grub);
    // A member without node files keeps the group's link, exactly as before.
    expect(await readlink(gen(3, 'ipxe/52-54-00-12-34-56.ipxe'))).toBe('groups/canary.ipxe');
    // Configs name versioned and content-addressed paths only.
    for (const file of [ipxe, grub]) expect(file).not.toContain('current');

    const verify = await cli('verify', '--json');
    const report = JSON.parse(verify.stdout) as { ok: boolean; problems: string[]; notes: string[]; counts: { artifacts: number } };
    expect(report.problems).toEqual([]);
    expect(report.notes.join('\n')).not.toContain('grub-script-check is not installed');
    expect(report.ok).toBe(true);
    // 3 archives + compute's 3 artifacts + tiny's 2.
    expect(report.counts.artifacts).toBe(8);
    // The served version's accounts reach computeNodeFiles.
    expect(compute.calls.at(-1)!.generateHostKeys).toBe(true);
  });

  it('content addressing: an unchanged node keeps its archive file untouched; a changed node gets a new one, only it', async () => {
    await promote('compute@c1', 'production');
    const before = await state(1);
    const file1 = path.join(site.tftp, before.nodes![mac1]!.archive);
    const info1 = await lstat(file1);
    const refresh = await cli('refresh', '--json');
    expect(refresh.exitCode).toBe(0);
    expect(JSON.parse(refresh.stdout).nodeArchives).toEqual({ nodes: 2, written: 0, kept: 2 });
    const same = await state(2);
    expect(same.nodes).toEqual(before.nodes);
    const again = await lstat(file1);
    expect([again.ino, again.mtimeMs, again.ctimeMs]).toEqual([info1.ino, info1.mtimeMs, info1.ctimeMs]);

    extra = { cn002: '-renamed' };
    const changed = await cli('refresh');
    expect(changed.exitCode).toBe(0);
    expect(changed.stdout).toContain('node files: 2 node(s); 1 archive(s) written, 1 already in the tree\n');
    const after = await state(3);
    expect(after.nodes![mac1]).toEqual(before.nodes![mac1]);
    expect(after.nodes![mac2]!.archive).not.toBe(before.nodes![mac2]!.archive);
    expect((await lstat(file1)).mtimeMs).toBe(info1.mtimeMs);
    expect((await readdir(path.join(site.tftp, 'pxeforge/nodes'))).sort()).toEqual(
      [before.nodes![mac1]!.archive, before.nodes![mac2]!.archive, after.nodes![mac2]!.archive].map((a) => path.basename(a)).sort(),
    );
  });

  it('a failing node-file computation stops promote and refresh before anything is written', async () => {
    compute.make = () => {
      throw invalidInput('INVALID_INPUT', 'nodefiles/base/etc/motd.liquid:1:4: unknown variable `rack`');
    };
    const fresh = await cli('promote', 'compute@c1', '--channel', 'production');
    expect(fresh.exitCode).toBe(2);
    expect(fresh.stderr).toContain('unknown variable `rack`');
    expect(await snapshotTree(site.tftp)).toEqual({});

    compute.make = nodeFiles;
    await promote('compute@c1', 'production');
    const before = await snapshotTree(site.tftp);
    compute.make = () => {
      throw invalidInput('INVALID_INPUT', 'secret munge.key does not exist');
    };
    expect((await cli('refresh')).exitCode).toBe(2);
    expect((await cli('promote', 'compute@c1', '--channel', 'staging')).exitCode).toBe(2);
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it('rollback restores the archives and configs of the generation it goes back to, not files made now', async () => {
    await promote('compute@c1', 'production');
    const first = await state(1);
    motd = 'second';
    await promote('compute@c2', 'production');
    const second = await state(2);
    expect(second.nodes![mac1]!.archive).not.toBe(first.nodes![mac1]!.archive);
    motd = 'third: never delivered by a rollback';
    const rollback = await cli('rollback', 'compute', '--channel', 'production');
    expect(rollback.exitCode).toBe(0);
    const third = await state(3);
    expect(third.nodes).toEqual(first.nodes);
    expect(await readFile(gen(3, 'pxelinux/nodes/52-54-00-00-10-01.cfg'), 'utf8')).toBe(
      (await readFile(gen(1, 'pxelinux/nodes/52-54-00-00-10-01.cfg'), 'utf8'))
        .replace('generation 1', 'generation 3')
        .replace(' pxeforge.generation=1 ', ' pxeforge.generation=3 '),
    );
    expect((await cli('verify')).exitCode).toBe(0);

    // An archive to restore that is gone: the rollback is refused, nothing changes.
    await promote('compute@c2', 'production');
    await rm(path.join(site.tftp, first.nodes![mac2]!.archive));
    const before = await snapshotTree(site.tftp);
    const refused = await cli('--json', 'rollback', 'compute', '--channel', 'production');
    expect(refused.exitCode).toBe(1);
    expect(JSON.parse(refused.stderr).error.code).toBe('NODE_ARCHIVE_MISSING');
    expect(await snapshotTree(site.tftp)).toEqual(before);
  });

  it('gc removes the archives no kept generation names, and only those', async () => {
    await promote('compute@c1', 'production');
    const first = await state(1);
    motd = 'second';
    expect((await cli('refresh')).exitCode).toBe(0);
    const second = await state(2);
    const dry = JSON.parse((await cli('gc', '--keep', '2', '--dry-run', '--json')).stdout) as {
      nodeArchives: { removed: string[]; kept: number };
    };
    expect(dry.nodeArchives).toEqual({ removed: [], kept: 4 });
    const result = await cli('gc', '--keep', '1');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('removed 2 node archive(s); kept 2');
    expect((await readdir(path.join(site.tftp, 'pxeforge/nodes'))).sort()).toEqual(
      Object.values(second.nodes!)
        .map((n) => path.basename(n.archive))
        .sort(),
    );
    for (const n of Object.values(first.nodes!)) await expect(stat(path.join(site.tftp, n.archive))).rejects.toThrow();
    expect((await cli('verify')).exitCode).toBe(0);
  });

  it('verify reports a tampered and a missing archive', async () => {
    await promote('compute@c1', 'production');
    const s = await state(1);
    await appendFile(path.join(site.tftp, s.nodes![mac1]!.archive), 'x');
    await rm(path.join(site.tftp, s.nodes![mac2]!.archive));
    const result = await cli('verify', '--json');
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as { problems: string[] };
    expect(report.problems).toEqual(
      expect.arrayContaining([
        `${s.nodes![mac1]!.archive} does not match the sha256 it was promoted with`,
        expect.stringMatching(new RegExp(`^${s.nodes![mac2]!.archive.replaceAll('.', '\\.')} \\(named by \\S+\\) is missing$`)),
      ]),
    );
  });

  it('secrets are in no file of the tree but the archives, and in no state, history or output', async () => {
    const outputs: string[] = [];
    for (const argv of [
      ['promote', 'compute@c1', '--channel', 'production'],
      ['promote', 'compute@c1', '--channel', 'staging'],
      ['refresh'],
      ['status'],
      ['verify', '--json'],
      ['history', '--json'],
    ]) {
      const result = await cli(...argv);
      outputs.push(result.stdout, result.stderr);
    }
    expect(outputs.join('\n')).not.toContain(secret);
    const holding: string[] = [];
    for (const [file, kind] of Object.entries(await snapshotTree(site.tftp))) {
      if (!kind.startsWith('file')) continue;
      if ((await readFile(path.join(site.tftp, file))).includes(secret)) holding.push(file);
    }
    expect(holding.length).toBeGreaterThan(0);
    expect(holding.every((file) => /^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/.test(file))).toBe(true);
  });
});

describe('node archives: the per-node initrd and the command line', () => {
  it('a write of an archive goes through a new file: a planted link at its name is not followed', async () => {
    await promote('compute@c1', 'production');
    const s = await state(1);
    const file = path.join(site.tftp, s.nodes![mac1]!.archive);
    await rm(file);
    await writeFile(path.join(site.dir, 'victim'), 'keep me');
    const { symlink } = await import('node:fs/promises');
    await symlink(path.join(site.dir, 'victim'), file);
    const result = await cli('refresh');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('symlink');
    expect(await readFile(path.join(site.dir, 'victim'), 'utf8')).toBe('keep me');
  });

  it('a symlink planted as the archive directory is refused before anything is written', async () => {
    await promote('compute@c1', 'production');
    const { mkdir, rename, symlink } = await import('node:fs/promises');
    await mkdir(path.join(site.dir, 'elsewhere'));
    await rename(path.join(site.tftp, 'pxeforge/nodes'), path.join(site.dir, 'moved'));
    await symlink(path.join(site.dir, 'elsewhere'), path.join(site.tftp, 'pxeforge/nodes'));
    motd = 'changed';
    const result = await cli('refresh');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain('pxeforge/nodes is a symlink');
    expect(await readdir(path.join(site.dir, 'elsewhere'))).toEqual([]);
    expect((await cli('verify')).stdout).toContain('pxeforge/nodes is a symlink');
  });
});

describe('node diff', () => {
  const diff = async () => {
    const { loadSite } = await import('../../src/site/site-config.js');
    const { recipeRepo } = await import('../../src/recipe/repo.js');
    const { treePaths } = await import('../../src/promote/tree.js');
    const { diffNodeFiles } = await import('../../src/promote/node-diff.js');
    const loaded = await loadSite(recipeRepo(site.repo), ['tree']);
    if (loaded.site === undefined) throw new Error(JSON.stringify(loaded.problems));
    return diffNodeFiles(loaded.site, treePaths(loaded.site.tftpRoot));
  };

  it('names the nodes whose files a refresh would change, with the paths, never the content', async () => {
    expect(await diff()).toEqual({ generation: undefined, changes: [], unchanged: 0 });
    await promote('compute@c1', 'production');
    expect(await diff()).toEqual({ generation: 1, changes: [], unchanged: 2 });
    expect(compute.calls.at(-1)!.generateHostKeys).toBe(false);

    extra = { cn002: '-renamed' };
    expect((await diff()).changes).toEqual([
      { host: 'cn002', mac: mac2, group: 'compute', change: 'changed', paths: ['/etc/hostname'], newHostKey: false },
    ]);
    extra = {};
    await promote('compute@c1', 'staging'); // gpu: cn003 served too
    extra = { cn002: '-renamed' };
    const make = compute.make;
    compute.make = (s, o) =>
      make!(s, o)
        .filter((node) => node.host !== 'cn001')
        .map((node) => ({ ...node, files: node.files.map((f) => (f.secret ? { ...f, content: Buffer.from('rotated') } : f)) }));
    const result = await diff();
    expect(result.changes.map((c) => [c.host, c.change, c.paths])).toEqual([
      ['cn001', 'removed', ['/etc', '/etc/hostname', '/etc/motd', '/etc/munge', '/etc/munge/munge.key']],
      ['cn002', 'changed', ['/etc/hostname', '/etc/munge/munge.key']],
      ['cn003', 'changed', ['/etc/munge/munge.key']],
    ]);
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(JSON.stringify(result)).not.toContain('rotated');
  });
});

describe('pxeforge nodes diff', () => {
  it('says "no node changes", or names each node and path; exit 0 either way', async () => {
    await promote('compute@c1', 'production');
    const none = await cli('nodes', 'diff');
    expect(none).toMatchObject({ exitCode: 0, stdout: 'no node changes (generation 1, 2 node(s) unchanged)\n' });
    motd = 'changed';
    const some = await cli('nodes', 'diff');
    expect(some.exitCode).toBe(0);
    expect(some.stdout).toBe(
      [
        `cn001 ${mac1} [compute]: changed: /etc/motd`,
        `cn002 ${mac2} [compute]: changed: /etc/motd`,
        '2 node(s) would change, 0 unchanged, compared with generation 1',
        '',
      ].join('\n'),
    );
    expect(JSON.parse((await cli('--json', 'nodes', 'diff')).stdout).changes).toHaveLength(2);
  });
});
