import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { readNodeArchive } from '../../src/nodes/archive.js';
import { hostKeyFiles } from '../../src/nodes/node-file.js';
import type { TreeState } from '../../src/promote/tree.js';
import { copyFixtureRepo, runCli } from '../helpers/cli.js';
import { makeVersion, snapshotTree } from '../helpers/tree-site.js';
import { writeUnder } from '../helpers/node-archive.js';

/** Node files from a real pxeforge.yaml, node file sets and secrets directory, through promote, refresh and the tree. */
let repo: { root: string; remove(): Promise<void> };
const secret = 'S3CRET-munge-key-bytes-e2e';
const mac1 = '52:54:00:00:10:01';
const mac2 = '52:54:00:00:10:02';

const write = (relative: string, text: string) => writeUnder(repo.root, relative, text);

const siteYaml = `store: var/store
tftpRoot: var/tftp
httpBaseUrl: http://10.0.0.254:8080/tftp
vars: { domain: cluster.test }
nodes:
  "cn[01-02]": { mac: "52:54:00:00:10:{n:02x}", ip: "10.0.0.{n}/24", ib0: "10.10.0.{n}/16" }
  cn03: "52:54:00:00:10:03"
nodeGroups:
  compute:
    image: base
    channel: staging
    hosts: ["cn[01-03]"]
    hostKeys: managed
    nodeFiles: [base]
    secrets: [{ name: munge.key, path: /etc/munge/munge.key, owner: munge, group: munge }]
`;

beforeEach(async () => {
  repo = await copyFixtureRepo();
  await write('pxeforge.yaml', siteYaml);
  await write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
  await write('nodefiles/base/etc/motd.liquid', 'welcome to {{ host }}.{{ domain }}\n');
  const secrets = path.join(repo.root, 'var/secrets');
  await mkdir(secrets, { recursive: true });
  await chmod(secrets, 0o700);
  await writeFile(path.join(secrets, 'munge.key'), secret, { mode: 0o600 });
  await makeVersion(path.join(repo.root, 'var/store'), 'base', 'v1', { format: 'initramfs' });
  const dir = path.join(repo.root, 'var/store/images/base/v1');
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.accounts = { users: { root: 0, munge: 105 }, groups: { root: 0, munge: 107 } };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
});
afterEach(async () => {
  await repo.remove();
});

const cli = (...args: string[]) => runCli(['--repo', repo.root, ...args]);
const tftp = () => path.join(repo.root, 'var/tftp');
const state = async (n: number) =>
  JSON.parse(await readFile(path.join(tftp(), 'pxeforge/generations', String(n), 'state.json'), 'utf8')) as TreeState;
const archiveOf = async (s: TreeState, mac: string) => readNodeArchive(await readFile(path.join(tftp(), s.nodes![mac]!.archive)));

describe('node files from pxeforge.yaml to the tree', () => {
  it('promote delivers each node its own files, its managed host key and the secret with owner and mode', async () => {
    const promoted = await cli('promote', 'base@v1', '--channel', 'staging');
    expect(promoted.exitCode).toBe(0);
    const s = await state(1);
    expect(Object.keys(s.nodes!).sort()).toEqual([mac1, mac2, '52:54:00:00:10:03']);
    const one = await archiveOf(s, mac1);
    const two = await archiveOf(s, mac2);
    expect(one.get('/etc/hostname')?.content?.toString()).toBe('cn01\n');
    expect(two.get('/etc/motd')?.content?.toString()).toBe('welcome to cn02.cluster.test\n');
    expect(one.get('/etc/munge/munge.key')).toMatchObject({ uid: 105, gid: 107, mode: 0o400, content: Buffer.from(secret) });
    const key = await readFile(hostKeyFiles(path.join(repo.root, 'var/secrets'), 'cn01').private);
    expect(one.get('/etc/ssh/ssh_host_ed25519_key')).toMatchObject({ mode: 0o600, content: key });
    expect((await cli('verify')).exitCode).toBe(0);

    // The secret and the private key: in the archives only.
    for (const [file, kind] of Object.entries(await snapshotTree(tftp()))) {
      if (!kind.startsWith('file') || /^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/.test(file)) continue;
      const content = await readFile(path.join(tftp(), file));
      expect(content.includes(secret), file).toBe(false);
      expect(content.includes(key), file).toBe(false);
    }
  });

  it('nodes diff: no changes after promote; a template change and a rekey name the nodes and paths; refresh delivers them', async () => {
    expect((await cli('promote', 'base@v1', '--channel', 'staging')).exitCode).toBe(0);
    expect((await cli('nodes', 'diff')).stdout).toContain('no node changes');
    await write('nodefiles/base/etc/motd.liquid', 'hello {{ host }}\n');
    expect((await cli('nodes', 'rekey', 'cn02')).exitCode).toBe(0);
    const diff = await cli('nodes', 'diff');
    expect(diff.exitCode).toBe(0);
    expect(diff.stdout).toContain(`cn01 ${mac1} [compute]: changed: /etc/motd\n`);
    expect(diff.stdout).toContain(
      `cn02 ${mac2} [compute]: changed: /etc/motd, /etc/ssh/ssh_host_ed25519_key, /etc/ssh/ssh_host_ed25519_key.pub\n`,
    );
    expect(diff.stdout).not.toContain(secret);
    const refreshed = await cli('--json', 'refresh');
    expect(refreshed.exitCode).toBe(0);
    expect((await archiveOf(await state(2), mac1)).get('/etc/motd')?.content?.toString()).toBe('hello cn01\n');
    expect((await cli('nodes', 'diff')).stdout).toContain('no node changes');

    // A node whose managed key is gone: "new host key" (diff makes none).
    await rm(path.dirname(hostKeyFiles(path.join(repo.root, 'var/secrets'), 'cn03').private), { recursive: true });
    const again = await cli('nodes', 'diff');
    expect(again.stdout).toMatch(/^cn03 52:54:00:00:10:03 \[compute\]: changed: .*\(new host key\)$/m);
  });

  it('nodes access-rules --nginx: each archive to its node, a warning for a node without an ip', async () => {
    expect((await cli('promote', 'base@v1', '--channel', 'staging')).exitCode).toBe(0);
    const s = await state(1);
    const rules = await cli('nodes', 'access-rules', '--nginx');
    expect(rules.exitCode).toBe(0);
    expect(rules.stdout).toContain(`location = /tftp/${s.nodes![mac1]!.archive} {\n    allow 10.0.0.1;\n    deny all;\n}`);
    expect(rules.stdout).toContain('location ^~ /tftp/pxeforge/nodes/ {\n    deny all;\n}');
    expect(rules.stderr).toContain('cn03');
  });

  it('bad node files stop promote before anything is written', async () => {
    await rm(path.join(repo.root, 'var/secrets/munge.key'));
    const refused = await cli('promote', 'base@v1', '--channel', 'staging');
    expect(refused.exitCode).toBe(2);
    expect(await snapshotTree(tftp())).toEqual({});
  });

  it('an image built before images applied node files is refused for a group with node files, before anything is written', async () => {
    const dir = path.join(repo.root, 'var/store/images/base/v1');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
    delete manifest.nodeFiles;
    await chmod(path.join(dir, 'manifest.json'), 0o644);
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const refused = await cli('promote', 'base@v1', '--channel', 'staging');
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('node group');
    expect(refused.stderr).toContain('base@v1');
    expect(refused.stderr).toContain('built before images applied node files');
    expect(refused.stderr).toContain('Rebuild the image');
    expect(await snapshotTree(tftp())).toEqual({});
  });
});
