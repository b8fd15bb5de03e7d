import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ValidationError } from '../../src/errors/problems.js';
import { computeNodeFiles, nodeFileProblems, nodeVariables } from '../../src/nodes/compute.js';
import { hostKeyFiles, type NodeFiles } from '../../src/nodes/node-file.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { loadSiteTree, type SiteTree } from '../../src/site/site-config.js';
import { copyFixtureRepo } from '../helpers/cli.js';
import { writeUnder } from '../helpers/node-archive.js';

let repo: { root: string; remove(): Promise<void> };
beforeEach(async () => {
  repo = await copyFixtureRepo();
});
afterEach(async () => {
  await repo.remove();
});

const accounts = { users: { root: 0, munge: 105 }, groups: { root: 0, munge: 107 } };
const served = () => ({ accounts });

async function write(relative: string, text: string | Buffer, mode?: number): Promise<void> {
  await writeUnder(repo.root, relative, text);
  if (mode !== undefined) await chmod(path.join(repo.root, relative), mode); // whatever the umask
}

async function site(yaml: string): Promise<SiteTree> {
  await write('pxeforge.yaml', yaml);
  const { site: tree, problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
  expect(problems).toEqual([]);
  return tree!;
}

async function secretsDir(): Promise<string> {
  const dir = path.join(repo.root, 'var/secrets');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<string[]> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).problems.map(
    (p) => `${[p.file, p.line, p.column].filter((x) => x !== undefined).join(':')}: ${p.message}`,
  );
}

const text = (node: NodeFiles | undefined, file: string) => node?.files.find((item) => item.path === file)?.content?.toString();

const cluster = `vars: { domain: cluster.test, mtu: 1500 }
nodes:
  "cn[001-003]":
    mac: "52:54:00:00:10:{n:02x}"
    ip: "10.0.0.{n}/24"
    ib0: "10.10.0.{n}/16"
    rack: "r{n:02d}"
  cn002: { mac: "52:54:00:00:10:02", mtu: 9000 }
  login1: "52:54:00:00:20:01"
nodeGroups:
  compute:
    image: base
    channel: staging
    hosts: ["cn[001-003]"]
    vars: { domain: compute.test, slurm: true }
    nodeFiles: [base]
`;

describe('node variables', () => {
  it('ranges expand patterns per node ({n}, padding, hex MACs); node over group over site', async () => {
    await write('nodefiles/base/etc/hostname.liquid', '{{ host }}.{{ domain }}\n');
    const tree = await site(
      cluster
        .replace('cn[001-003]', 'cn[009-011]')
        .replace('cn002: { mac: "52:54:00:00:10:02"', 'cn010: { mac: "52:54:00:00:10:0a"')
        .replaceAll('"cn[001-003]"', '"cn[009-011]"'),
    );
    expect(tree.nodeConfig?.nodes.map((node) => [node.host, node.mac, node.ip, node.vars])).toEqual([
      ['cn009', '52:54:00:00:10:09', '10.0.0.9/24', { ib0: '10.10.0.9/16', rack: 'r09' }],
      ['cn010', '52:54:00:00:10:0a', '10.0.0.10/24', { ib0: '10.10.0.10/16', rack: 'r10', mtu: 9000 }],
      ['cn011', '52:54:00:00:10:0b', '10.0.0.11/24', { ib0: '10.10.0.11/16', rack: 'r11' }],
      ['login1', '52:54:00:00:20:01', undefined, {}],
    ]);
    const vars = nodeVariables(tree, 'cn010')!;
    expect(vars.mtu).toEqual({ value: 9000, from: 'nodes.cn[009-011] + nodes.cn010' });
    expect(vars.domain).toEqual({ value: 'compute.test', from: 'nodeGroups.compute.vars' });
    expect(vars.slurm).toEqual({ value: true, from: 'nodeGroups.compute.vars' });
    expect(nodeVariables(tree, 'cn009')?.mtu).toEqual({ value: 1500, from: 'vars' });
    expect(vars.host).toEqual({ value: 'cn010', from: 'built-in' });
    const files = await computeNodeFiles(tree, { served, generateHostKeys: false });
    expect(files.map((node) => [node.host, node.mac, text(node, '/etc/hostname')])).toEqual([
      ['cn009', '52:54:00:00:10:09', 'cn009.compute.test\n'],
      ['cn010', '52:54:00:00:10:0a', 'cn010.compute.test\n'],
      ['cn011', '52:54:00:00:10:0b', 'cn011.compute.test\n'],
    ]);
  });

  it('a host two entries define with different values is ambiguous; identical values are fine', async () => {
    const yaml = (value: string) =>
      `nodes:\n  "cn[1-4]": { mac: "52:54:00:00:10:0{n}", ib0: "10.10.0.{n}/16" }\n  cn2: { mac: "52:54:00:00:10:02", ib0: "${value}" }\n`;
    await write('pxeforge.yaml', yaml('10.10.0.2/16'));
    expect((await loadSiteTree(recipeRepo(repo.root), ['base'])).problems).toEqual([]);
    await write('pxeforge.yaml', yaml('10.10.9.9/16'));
    const { problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
    expect(problems.map((p) => [p.line, p.path, p.message])).toEqual([
      [3, 'nodes.cn2', 'cn2 is also defined by `cn[1-4]`, with another `ib0`'],
    ]);
  });

  it('patterns need a range with one group; built-in names and bad values are located problems', async () => {
    await write(
      'pxeforge.yaml',
      `vars: { host: x }
nodes:
  "r[1-2]n[1-2]": { mac: "52:54:00:00:10:{n:02x}" }
  one: { mac: "52:54:00:00:10:{n}" }
  "cn[1-2]": { mac: "52:54:00:00:10:{n:02x}", ip: "10.0.0.{n}/99", group: a }
  bad: { mac: "nope" }
`,
    );
    const { problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
    expect(problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      '3: nodes.r[1-2]n[1-2].mac: `{n}` needs a range with one `[...]` group; this one has several, so the number is ambiguous',
      '4: nodes.one.mac: `{n}` stands for the node number of a host range; this entry is a single host',
      '5: nodes.cn[1-2].group: `group` is a built-in variable; no node, group or site may define it',
      '6: nodes.bad.mac: `nope` (bad) is not a MAC address',
      '1: vars.host: `host` is a built-in variable; no node, group or site may define it',
    ]);
  });

  it('groups with node files name members by hosts, not bare MACs', async () => {
    await write('pxeforge.yaml', 'nodeGroups:\n  g: { image: base, channel: staging, macs: ["52:54:00:00:00:01"], hostKeys: managed }\n');
    const { problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
    expect(problems.map((p) => p.path)).toEqual(['nodeGroups.g.macs']);
  });

  it('configs without node files keep working and give nothing', async () => {
    await write(
      'pxeforge.yaml',
      'nodes: { cn1: "52:54:00:00:00:01" }\nnodeGroups:\n  g: { image: base, channel: staging, hosts: [cn1] }\n',
    );
    const { site: tree, problems } = await loadSiteTree(recipeRepo(repo.root), ['base']);
    expect(problems).toEqual([]);
    expect(await computeNodeFiles(tree!, { served, generateHostKeys: true })).toEqual([]);
  });
});

describe('node file sets and templates', () => {
  it('files, directories, metadata owners and modes, parents before children, deterministic', async () => {
    await write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
    await write(
      'nodefiles/base/etc/hosts.liquid',
      '{% for n in nodes %}{% if n.ip %}{{ n.ip | split: "/" | first }} {{ n.host }}\n{% endif %}{% endfor %}',
    );
    await write('nodefiles/base/etc/munge/README', 'plain\n');
    await write('nodefiles/base/usr/local/bin/hello', '#!/bin/sh\n', 0o755);
    await write('nodefiles/base.yaml', 'files:\n  - { path: /etc/munge, owner: munge, group: munge, mode: "0700" }\n');
    const tree = await site(cluster);
    const run = () => computeNodeFiles(tree, { served, generateHostKeys: false });
    const [first] = await run();
    expect(first?.files.map((file) => [file.path, file.kind, file.uid, file.gid, file.mode.toString(8), file.explicit ?? false])).toEqual([
      ['/etc', 'directory', 0, 0, '755', false],
      ['/etc/hostname', 'file', 0, 0, '644', false],
      ['/etc/hosts', 'file', 0, 0, '644', false],
      ['/etc/munge', 'directory', 105, 107, '700', true],
      ['/etc/munge/README', 'file', 0, 0, '644', false],
      ['/usr', 'directory', 0, 0, '755', false],
      ['/usr/local', 'directory', 0, 0, '755', false],
      ['/usr/local/bin', 'directory', 0, 0, '755', false],
      ['/usr/local/bin/hello', 'file', 0, 0, '755', false],
    ]);
    expect(text(first, '/etc/hosts')).toBe('10.0.0.1 cn001\n10.0.0.2 cn002\n10.0.0.3 cn003\n');
    expect(first?.files.find((file) => file.path === '/etc/hostname')?.source).toBe('nodefiles/base/etc/hostname.liquid');
    expect(await run()).toEqual(await run());
  });

  it('template errors and undefined variables are located (file:line:col), once per template', async () => {
    await write('nodefiles/base/etc/a.conf.liquid', 'x = 1\n  y = {{ nope }}\n');
    await write('nodefiles/base/etc/b.conf.liquid', '{% if %}\n');
    await write('nodefiles/base/etc/c.conf.liquid', '{{ host | frobnicate }}\n');
    const tree = await site(cluster);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: false }))).toEqual([
      'nodefiles/base/etc/b.conf.liquid:1:6: invalid value expression: ""',
      'nodefiles/base/etc/c.conf.liquid:1:1: undefined filter: frobnicate',
      'nodefiles/base/etc/a.conf.liquid:2:10: undefined variable: nope (rendering for node cn001)',
    ]);
  });

  it('include, render and layout are refused: a template reads no file', async () => {
    await write('nodefiles/base/etc/leak.liquid', "head\n {% include '/etc/passwd' %}\n");
    await write('nodefiles/other/etc/leak2.liquid', "{% render '/etc/passwd' %}");
    const tree = await site(cluster.replace('nodeFiles: [base]', 'nodeFiles: [base, other]'));
    const problems = await failure(computeNodeFiles(tree, { served, generateHostKeys: false }));
    expect(problems).toEqual([
      'nodefiles/base/etc/leak.liquid:2:2: `include` is not available in node files: a template reads no other file',
      'nodefiles/other/etc/leak2.liquid:1:1: `render` is not available in node files: a template reads no other file',
    ]);
    expect(problems.join('\n')).not.toContain('root:x:0');
  });

  it('symlinks and pipes in a set, bad metadata paths, clashing sets and unknown owners are problems', async () => {
    await write('nodefiles/base/etc/ok', 'ok\n');
    await symlink('/etc/passwd', path.join(repo.root, 'nodefiles/base/etc/passwd'));
    await write('nodefiles/base.yaml', 'files:\n  - { path: /etc/../etc/ok, mode: "0600" }\n  - { path: /etc/ok, owner: slurm }\n');
    await write('nodefiles/other/etc/ok', 'other\n');
    const tree = await site(cluster.replace('nodeFiles: [base]', 'nodeFiles: [base, other]'));
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: false }))).toEqual([
      'nodefiles/base/etc/passwd: is a symlink; node file sets hold only files and directories',
      'nodefiles/base.yaml:2:13: `/etc/../etc/ok` is not a normalized absolute path (no `..`, `.` or `//`)',
      'nodefiles/base.yaml:3:13: user `slurm` of /etc/ok: no such user in the image node group `compute` boots',
      'pxeforge.yaml:12:5: `/etc/ok` comes from both `nodefiles/base/etc/ok` and `nodefiles/other/etc/ok` (node cn001)',
    ]);
    await write('nodefiles/base.yaml', 'files:\n  - { path: /etc/ok, owner: slurm }\n');
    await write('pxeforge.yaml', '');
    const { rm } = await import('node:fs/promises');
    await rm(path.join(repo.root, 'nodefiles/base/etc/passwd'));
    const again = await site(cluster.replace('nodeFiles: [base]', 'nodeFiles: [base, other]'));
    expect(await failure(computeNodeFiles(again, { served, generateHostKeys: false }))).toEqual([
      'nodefiles/base.yaml:2:13: user `slurm` of /etc/ok: no such user in the image node group `compute` boots',
      'pxeforge.yaml:12:5: `/etc/ok` comes from both `nodefiles/base/etc/ok` and `nodefiles/other/etc/ok` (node cn001)',
    ]);
    const unrecorded = await failure(computeNodeFiles(again, { served: () => ({ accounts: undefined }), generateHostKeys: false }));
    expect(unrecorded[0]).toContain('records no accounts');
  });

  it('pipes and unprintable file names in a set are refused', async () => {
    await write('nodefiles/base/etc/ok', 'ok\n');
    execFileSync('mkfifo', [path.join(repo.root, 'nodefiles/base/etc/fifo')]);
    await write('nodefiles/base/etc/bad\u001b[2Jname', 'x\n');
    const tree = await site(cluster);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: false }))).toEqual([
      'nodefiles/base/etc/bad\\x1b[2Jname: file names of node files must be printable (no control characters)',
      'nodefiles/base/etc/fifo: is not a regular file or directory (a device, socket or pipe); node file sets hold only files and directories',
    ]);
  });

  it('a node whose archive exceeds nodeArchiveLimit is a problem', async () => {
    await write('nodefiles/base/big', Buffer.alloc(4000));
    const tree = await site(`nodeArchiveLimit: 4K\n${cluster}`);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: false }))).toEqual([
      'pxeforge.yaml:13:5: the archive of node cn001 would be 4512 bytes, over the limit of 4000 (nodeArchiveLimit)',
    ]);
  });

  it('groups whose channel serves nothing get no files', async () => {
    await write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
    const tree = await site(cluster);
    expect(await computeNodeFiles(tree, { served: () => undefined, generateHostKeys: false })).toEqual([]);
  });
});

const secretSite = `${cluster.replace('nodeFiles: [base]', 'nodeFiles: [base]\n    hostKeys: managed\n    secrets: [{ name: munge.key, path: /etc/munge/munge.key, owner: munge, group: munge, mode: "0400" }]')}`;

describe('secrets and managed host keys', () => {
  it('a secret goes into NodeFile.content, marked secret; keys are made once and stay', async () => {
    await write('nodefiles/base/etc/ssh/ssh_known_hosts.liquid', '{{ ssh_known_hosts }}');
    const dir = await secretsDir();
    const secret = 'MUNGE-SECRET-BYTES-0123456789';
    await writeFile(path.join(dir, 'munge.key'), secret, { mode: 0o600 });
    const tree = await site(secretSite);
    const first = await computeNodeFiles(tree, { served, generateHostKeys: true });
    const cn1 = first[0]!;
    const munge = cn1.files.find((file) => file.path === '/etc/munge/munge.key')!;
    expect([munge.content?.toString(), munge.secret, munge.uid, munge.gid, munge.mode.toString(8), munge.source]).toEqual([
      secret,
      true,
      105,
      107,
      '400',
      'secret munge.key',
    ]);
    const key = cn1.files.find((file) => file.path === '/etc/ssh/ssh_host_ed25519_key')!;
    expect([key.secret, key.mode.toString(8), key.uid]).toEqual([true, '600', 0]);
    expect(key.content?.toString()).toContain('OPENSSH PRIVATE KEY');
    expect(text(cn1, '/etc/ssh/sshd_config.d/50-pxeforge-host-key.conf')).toBe('HostKey /etc/ssh/ssh_host_ed25519_key\n');
    const publicKey = text(cn1, '/etc/ssh/ssh_host_ed25519_key.pub')!;
    expect(publicKey).toMatch(/^ssh-ed25519 AAAA\S+ cn001\n$/);
    const files = hostKeyFiles(dir, 'cn001');
    expect((await stat(files.private)).mode & 0o777).toBe(0o600);
    expect((await stat(files.public)).mode & 0o777).toBe(0o644);
    expect((await stat(path.dirname(files.private))).mode & 0o777).toBe(0o700);
    const known = text(cn1, '/etc/ssh/ssh_known_hosts')!;
    expect(known.split('\n').map((line) => line.split(' ')[0])).toEqual(['cn001,10.0.0.1', 'cn002,10.0.0.2', 'cn003,10.0.0.3', '']);
    expect(known).toContain(publicKey.split(' ')[1]);
    const again = await computeNodeFiles(tree, { served, generateHostKeys: true });
    expect(again).toEqual(first);
    expect(await readFile(files.private, 'utf8')).toBe(key.content?.toString());
  });

  it('a missing secret and loose permissions are located problems', async () => {
    await write('nodefiles/base/etc/motd', 'hello\n');
    const dir = await secretsDir();
    const tree = await site(secretSite);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: false }))).toEqual([
      'pxeforge.yaml:18:15: no secret `munge.key` in the secrets directory',
    ]);
    await writeFile(path.join(dir, 'munge.key'), 'x', { mode: 0o600 });
    await chmod(dir, 0o750);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: true }))).toEqual([
      'pxeforge.yaml:1:1: the secrets directory has mode 0750: group and others may reach it',
    ]);
    expect(await nodeFileProblems(tree)).toHaveLength(1);
    // Another user's directory (root makes it so here), even with a tight mode.
    await chmod(dir, 0o700);
    await chown(dir, 4242, 4242);
    expect(await failure(computeNodeFiles(tree, { served, generateHostKeys: true }))).toEqual([
      `pxeforge.yaml:1:1: the secrets directory belongs to uid 4242, not to the user running pxeforge (uid ${process.getuid!()})`,
    ]);
  });

  it('the secrets directory may not be a symlink, nor inside the TFTP root', async () => {
    await mkdir(path.join(repo.root, 'real'), { mode: 0o700 });
    await symlink(path.join(repo.root, 'real'), path.join(repo.root, 'link'));
    let tree = await site(`secrets: link\n${secretSite}`);
    expect((await nodeFileProblems(tree)).map((p) => [p.line, p.message])).toEqual([
      [1, 'the secrets directory is a symlink; pxeforge follows none there'],
    ]);
    tree = await site(`secrets: var/tftp/secrets\n${secretSite}`);
    expect((await nodeFileProblems(tree)).map((p) => p.message)).toEqual([
      'the secrets directory overlaps the TFTP root, which every node can read',
    ]);
  });

  it('a secrets directory inside a git work tree must be ignored by git', async () => {
    await write('nodefiles/base/etc/motd', 'hello\n');
    execFileSync('git', ['init', '-q', repo.root]);
    const dir = await secretsDir();
    await writeFile(path.join(dir, 'munge.key'), 'x', { mode: 0o600 });
    const tree = await site(secretSite);
    expect((await nodeFileProblems(tree)).map((p) => p.message)).toEqual([
      'the secrets directory is inside a git work tree and not ignored by git',
    ]);
    await write('.gitignore', 'var/\n');
    expect(await nodeFileProblems(tree)).toEqual([]);
  });

  it('a secret that is a symlink is refused, never followed', async () => {
    await write('nodefiles/base/etc/motd', 'hello\n');
    const dir = await secretsDir();
    await symlink('/etc/passwd', path.join(dir, 'munge.key'));
    const tree = await site(secretSite);
    const problems = await failure(computeNodeFiles(tree, { served, generateHostKeys: false }));
    expect(problems).toEqual(['pxeforge.yaml:18:15: secret `munge.key` is a symlink (symlinks are not followed)']);
  });
});
