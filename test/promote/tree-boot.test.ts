import { mkdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';

import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { publicKeyFingerprint } from '../../src/boot-test/ssh.js';
import { hostKeyFiles } from '../../src/nodes/node-file.js';
import { treeBootFor } from '../../src/promote/tree-boot.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { loadSiteConfig } from '../../src/site/site-config.js';
import { runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';

/** `pxeforge test --via pxe --channel c --node <host>`: which member boots, and which host key it must present. */
const siteYaml = `store: store
tftpRoot: tftp
secrets: secrets
channels:
  staging: {}
nodes:
  cn001: "52:54:00:00:10:01"
  cn002: "52:54:00:00:10:02"
  cn003: "52:54:00:00:10:03"
nodeGroups:
  compute: { image: compute, channel: staging, hosts: ["cn[001-002]"], hostKeys: managed }
  spare: { image: tiny, channel: staging, hosts: ["cn003"] }
  canary: { image: tiny, channel: staging, macs: ["52:54:00:12:34:56"] }
`;
const v1 = '20261125T100000Z-11111111';

let site: TreeSite;
const cli = (...argv: string[]) => runCli(argv, site.repo);
const secrets = () => path.join(site.repo, 'secrets');

async function makeHostKey(host: string): Promise<string> {
  const { private: key, public: pub } = hostKeyFiles(secrets(), host);
  await rm(path.dirname(key), { recursive: true, force: true });
  await mkdir(path.dirname(key), { recursive: true, mode: 0o700 });
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', host, '-f', key]);
  return readFile(pub, 'utf8');
}

async function tree() {
  const config = (await loadSiteConfig(recipeRepo(site.repo), ['compute', 'tiny'])).site!;
  return (options: { node?: string; group?: string; image?: string }) =>
    treeBootFor(config, options.image ?? `compute@${v1}`, { channel: 'staging', entry: 'boot.ipxe', ...options });
}

beforeEach(async () => {
  site = await makeTreeSite(siteYaml);
  await mkdir(secrets(), { mode: 0o700 });
  for (const host of ['cn001', 'cn002']) await makeHostKey(host);
  await makeVersion(site.store, 'compute', v1, { format: 'initramfs' });
  await makeVersion(site.store, 'tiny', v1);
  for (const name of ['compute', 'tiny']) expect((await cli('promote', `${name}@${v1}`, '--channel', 'staging')).exitCode).toBe(0);
});
afterEach(async () => {
  await site.remove();
});

describe('booting from the tree as a named node', () => {
  it('boots as the named member with its MAC; a managed group gives the fingerprint of its key', async () => {
    const pub = await readFile(hostKeyFiles(secrets(), 'cn002').public, 'utf8');
    const boot = await tree();
    const { tree: cn002 } = await boot({ node: 'cn002' });
    expect({ node: cn002.node, mac: cn002.mac, group: cn002.group }).toEqual({ node: 'cn002', mac: '52:54:00:00:10:02', group: 'compute' });
    // The fingerprint OpenSSH prints for the same key.
    const listed = (await execa('ssh-keygen', ['-l', '-E', 'sha256', '-f', hostKeyFiles(secrets(), 'cn002').public])).stdout.split(' ')[1];
    expect(cn002.managedHostKey).toBe(listed);
    expect(publicKeyFingerprint(pub)).toBe(listed);
    // Its archive in this generation, which the test serves and checks like the image's artifacts.
    expect(cn002.nodeArchive?.path).toMatch(/^pxeforge\/nodes\/[0-9a-f]{64}\.cpio$/);
    expect(cn002.nodeArchive?.path).toBe(`pxeforge/nodes/${cn002.nodeArchive?.sha256}.cpio`);
    // Without --node: the group's first member, as before.
    expect((await boot({})).tree).toMatchObject({ node: 'cn001', mac: '52:54:00:00:10:01' });
  });

  it('a group that makes its keys at boot keeps the check of a new key per boot', async () => {
    const boot = await tree();
    expect((await boot({ image: `tiny@${v1}`, node: 'cn003' })).tree).toMatchObject({
      node: 'cn003',
      managedHostKey: undefined,
      nodeArchive: undefined,
    });
    expect((await boot({ image: `tiny@${v1}`, group: 'canary' })).tree).toMatchObject({
      node: undefined,
      mac: '52:54:00:12:34:56',
      managedHostKey: undefined,
    });
  });

  it('refuses an unknown node, a node of another image, and a managed node without its key', async () => {
    const boot = await tree();
    await expect(boot({ node: 'cn009' })).rejects.toMatchObject({
      code: 'UNKNOWN_NODE',
      message: 'no node group of pxeforge.yaml has a node named cn009',
    });
    await expect(boot({ node: 'cn003' })).rejects.toMatchObject({
      code: 'UNKNOWN_NODE',
      message: 'node cn003 is not in a node group that follows compute in staging',
    });
    // A link in place of the public key is never followed.
    await rm(hostKeyFiles(secrets(), 'cn001').public);
    await symlink(hostKeyFiles(secrets(), 'cn002').public, hostKeyFiles(secrets(), 'cn001').public);
    await expect(boot({ node: 'cn001' })).rejects.toMatchObject({ code: 'NO_MANAGED_HOST_KEY' });
    await rm(path.dirname(hostKeyFiles(secrets(), 'cn001').public), { recursive: true });
    await expect(boot({ node: 'cn001' })).rejects.toMatchObject({
      code: 'NO_MANAGED_HOST_KEY',
      message: expect.stringMatching(/^cn001 has no managed SSH host key \(.*ssh_host_ed25519_key\.pub is missing\)$/),
    });
  });

  it('--node needs --channel', async () => {
    const result = await cli('test', 'tiny', '--node', 'cn003', '--json');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('--node boots as a node of the PXE tree: it needs --via pxe --channel <channel>');
  });
});

describe('public key fingerprints', () => {
  it('refuses what is not an OpenSSH public key line', () => {
    expect(publicKeyFingerprint('')).toBeUndefined();
    expect(publicKeyFingerprint('ssh-ed25519 not-base64!')).toBeUndefined();
    // A blob of another type than the line says.
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.alloc(8)]).toString('base64');
    expect(publicKeyFingerprint(`ssh-ed25519 ${blob}`)).toBeUndefined();
    expect(publicKeyFingerprint(`ssh-rsa ${blob} x`)).toMatch(/^SHA256:/);
  });
});
