import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { hostKeyFiles } from '../../src/nodes/node-file.js';
import { copyFixtureRepo, runCli } from '../helpers/cli.js';
import { writeUnder } from '../helpers/node-archive.js';

let repo: { root: string; remove(): Promise<void> };
const secret = 'S3CRET-munge-bytes-\u001b]0;owned\u0007-end';

const write = (relative: string, text: string) => writeUnder(repo.root, relative, text);

const siteYaml = `store: var/store
tftpRoot: var/tftp
vars: { domain: cluster.test }
nodes:
  "cn[01-02]": { mac: "52:54:00:00:10:{n:02x}", ip: "10.0.0.{n}/24", ib0: "10.10.0.{n}/16" }
nodeGroups:
  compute:
    image: base
    channel: staging
    hosts: ["cn[01-02]"]
    hostKeys: managed
    nodeFiles: [base]
    secrets: [{ name: munge.key, path: /etc/munge/munge.key, owner: 105, group: 107 }]
`;

beforeEach(async () => {
  repo = await copyFixtureRepo();
  await write('pxeforge.yaml', siteYaml);
  await write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
  await write('nodefiles/base/etc/motd.liquid', 'welcome to {{ host }}.{{ domain }} \u001b[31m ib0 {{ ib0 }}\n');
  const secrets = path.join(repo.root, 'var/secrets');
  await mkdir(secrets, { recursive: true });
  await chmod(secrets, 0o700);
  await writeFile(path.join(secrets, 'munge.key'), secret, { mode: 0o600 });
});
afterEach(async () => {
  await repo.remove();
});

const cli = (...args: string[]) => runCli(['--repo', repo.root, ...args]);

describe('pxeforge nodes', () => {
  it('show: merged variables with their sources, files with owners and modes, secrets masked, nothing raw to the terminal', async () => {
    const shown = await cli('nodes', 'show', 'cn02');
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain('ib0 = "10.10.0.2/16"   (nodes.cn[01-02])');
    expect(shown.stdout).toContain('domain = "cluster.test"   (vars)');
    expect(shown.stdout).toContain('  /etc/hostname  0:0  0644  file  from nodefiles/base/etc/hostname.liquid\n    | cn02\n');
    expect(shown.stdout).toContain('    | welcome to cn02.cluster.test \\x1b[31m ib0 10.10.0.2/16');
    expect(shown.stdout).toContain(
      `  /etc/munge/munge.key  105:107  0400  file  from secret munge.key\n    <secret: ${Buffer.byteLength(secret)} bytes>`,
    );
    expect(shown.stdout).toContain('managed SSH host key does not exist yet');
    expect(shown.stdout).not.toContain('\u001b');
    const json = await cli('--json', 'nodes', 'show', 'cn02');
    expect(json.exitCode).toBe(0);
    const parsed = JSON.parse(json.stdout) as { files: { path: string; content?: string; size?: number }[]; hostKeyPending: boolean };
    expect(parsed.files.find((file) => file.path === '/etc/munge/munge.key')).toMatchObject({
      size: Buffer.byteLength(secret),
      secret: true,
    });
    expect(parsed.hostKeyPending).toBe(true);
    for (const output of [shown.stdout, shown.stderr, json.stdout, json.stderr]) expect(output).not.toContain('S3CRET');
    // A preview makes no key.
    expect(await readFile(hostKeyFiles(path.join(repo.root, 'var/secrets'), 'cn02').public, 'utf8').catch(() => 'none')).toBe('none');
  });

  it('known-hosts makes the keys once; show then has the private key masked; rekey replaces one', async () => {
    const out = path.join(repo.root, 'known_hosts');
    expect((await cli('nodes', 'known-hosts', '-o', out)).exitCode).toBe(0);
    const first = await readFile(out, 'utf8');
    const lines = first.trimEnd().split('\n');
    expect(lines.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['cn01,10.0.0.1 ssh-ed25519', 'cn02,10.0.0.2 ssh-ed25519']);
    const stdout = await cli('nodes', 'known-hosts');
    expect(stdout.stdout).toBe(first);
    const dir = path.join(repo.root, 'var/secrets');
    const privateKey = await readFile(hostKeyFiles(dir, 'cn01').private, 'utf8');
    const shown = await cli('nodes', 'show', 'cn01');
    expect(shown.stdout).toMatch(
      /\/etc\/ssh\/ssh_host_ed25519_key {2}0:0 {2}0600 {2}file {2}from managed SSH host key\n {4}<secret: \d+ bytes>/,
    );
    expect(shown.stdout).toContain('/etc/ssh/sshd_config.d/50-pxeforge-host-key.conf');
    expect(shown.stdout).not.toContain(privateKey.split('\n')[1]!);
    const json = await cli('--json', 'nodes', 'show', 'cn01');
    expect(json.stdout).not.toContain(privateKey.split('\n')[1]!);
    expect(json.stdout).not.toContain('OPENSSH PRIVATE');

    const rekey = await cli('nodes', 'rekey', 'cn01');
    expect(rekey.exitCode).toBe(0);
    expect(rekey.stdout).toContain('pxeforge refresh');
    expect(await readFile(hostKeyFiles(dir, 'cn01').private, 'utf8')).not.toBe(privateKey);
    const after = (await cli('nodes', 'known-hosts')).stdout.trimEnd().split('\n');
    expect(after[0]).not.toBe(lines[0]);
    expect(after[1]).toBe(lines[1]);
  });

  it('an unknown node is a clear error with a suggestion', async () => {
    const result = await cli('nodes', 'show', 'cn2');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('no node `cn2` in `nodes` of pxeforge.yaml');
    expect(result.stderr).toContain('did you mean `cn02`?');
    expect((await cli('nodes', 'rekey', 'cn03')).exitCode).toBe(2);
  });

  it('validate reports template errors located and exits 2; secrets never appear', async () => {
    await write('nodefiles/base/etc/broken.liquid', 'a\n{{ ib1 }}\n');
    await write('nodefiles/base/etc/leak.liquid', "{% include 'var/secrets/munge.key' %}");
    const result = await cli('validate', path.join(repo.root, 'recipes/base.yaml'));
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain(
      'nodefiles/base/etc/leak.liquid:1:1: `include` is not available in node files: a template reads no other file',
    );
    expect(result.stderr).toContain('nodefiles/base/etc/broken.liquid:2:4: undefined variable: ib1 (rendering for node cn01)');
    expect(result.stderr).not.toContain('cn02)');
    expect(result.stdout + result.stderr).not.toContain('S3CRET');
    const json = await cli('--json', 'validate', path.join(repo.root, 'recipes/base.yaml'));
    expect(json.stdout + json.stderr).not.toContain('S3CRET');
    // validate writes nothing: no host key was made.
    expect(await readFile(hostKeyFiles(path.join(repo.root, 'var/secrets'), 'cn01').public, 'utf8').catch(() => 'none')).toBe('none');
  });

  it('validate: a missing secret is located at the group entry', async () => {
    await write('pxeforge.yaml', siteYaml.replace('name: munge.key', 'name: slurm.key'));
    const result = await cli('validate', path.join(repo.root, 'recipes/base.yaml'));
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('pxeforge.yaml:13:15: nodeGroups.compute.secrets[0]: no secret `slurm.key` in the secrets directory');
  });
});
