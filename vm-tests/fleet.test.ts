import { chmod, copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type BootRecord, bootRecordPath, parseBootRecord } from '../src/nodes/boot-record.js';
import { type FleetNode as FleetNodeRow, fleetSnapshotSchema } from '../src/report/fleet-snapshot.js';
import { type FleetNetwork, type FleetNode, namespaceExists, placeIpxeLoaders, startFleetNetwork } from './helpers/fleet-network.js';
import { projectRoot, type TempRepo, tempRecipeRepo } from './helpers/recipe-repo.js';

/**
 * A fleet on a real PXE network (docs/fleet.md): a network namespace with a bridge, dnsmasq as
 * DHCP and TFTP server (the shipped deploy/servers/dnsmasq-pxeforge-dhcp.conf, with the
 * dhcp-host lines of `pxeforge render dnsmasq`), nginx serving the tree over HTTP (the shipped
 * nginx-pxeforge.conf), and four QEMU nodes on taps booting from their NIC's iPXE ROM at the
 * same time: two of the group `squashfs` (a squashfs root fetched over HTTP and verified
 * before it is mounted), two of the group `initramfs` (tiny, the whole root in RAM). Each
 * node's boot record is read over SSH with the fleet key its node files deliver and its
 * managed host key checked: every node booted what its group's channel serves; promote →
 * reboot → the new version; rollback → reboot → the old one; a squashfs changed in the tree
 * is refused by the node itself; a MAC in no group gets the unknown-node action.
 */

const groups = {
  squashfs: { image: 'fleet-squash', channel: 'production', hosts: ['sq1', 'sq2'] },
  initramfs: { image: 'tiny', channel: 'staging', hosts: ['ram1', 'ram2'] },
} as const;
const macs: Record<string, string> = {
  sq1: '52:54:00:77:01:01',
  sq2: '52:54:00:77:01:02',
  ram1: '52:54:00:77:02:01',
  ram2: '52:54:00:77:02:02',
};
const addresses: Record<string, string> = { sq1: '10.77.0.11', sq2: '10.77.0.12', ram1: '10.77.0.21', ram2: '10.77.0.22' };
const strangerMac = '52:54:00:77:09:01';
const pxeforgeBin = path.join(projectRoot, 'bin/pxeforge.js');

const recipes: Record<string, string> = {
  // tiny with its root as a squashfs fetched over HTTP: tiny's cached layers below, the netboot packages above.
  'fleet-squash': `name: fleet-squash
extends: tiny
overlays: [fleet]
packages:
  sets: [squashfs-netboot]
output:
  format: squashfs
tests:
  checks:
    - { name: root is in RAM, run: "findmnt -no FSTYPE /", expect: overlay }
`,
};

let repo: TempRepo;
let network: FleetNetwork | undefined;
let tftp: string;
let secrets: string;
let knownHosts: string;
let identity: string;
const nodes = new Map<string, FleetNode>();
const versions: { squash: string[]; tiny: string } = { squash: [], tiny: '' };
const timings: [string, number][] = [];
let namespace = '';

async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
  const start = Date.now();
  try {
    return await work();
  } finally {
    const seconds = (Date.now() - start) / 1000;
    timings.push([name, seconds]);
    process.stdout.write(`fleet test: ${name}: ${seconds.toFixed(1)} s\n`);
  }
}

async function pxeforge(args: string[]): Promise<string> {
  const result = await repo.pxeforge(args);
  expect(result.exitCode, `pxeforge ${args.join(' ')}\n${result.stdout.slice(-3000)}${result.stderr}`).toBe(0);
  return result.stdout;
}

async function build(name: string): Promise<string> {
  return /built \S+@(\S+) in/.exec(await pxeforge(['build', `recipes/${name}.yaml`]))![1]!;
}

/** The node's boot record, read over SSH in the namespace with the fleet key, its host key checked against the managed one. */
async function bootRecord(host: string): Promise<BootRecord | undefined> {
  const result = await network!.exec(
    [
      'ssh',
      ...['-i', identity, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${knownHosts}`],
      ...['-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `root@${addresses[host]}`, `cat ${bootRecordPath}`],
    ],
    { timeout: 20_000 },
  );
  if (result.exitCode !== 0) return undefined;
  const parsed = parseBootRecord(String(result.stdout));
  if ('problem' in parsed) throw new Error(`${host}: ${bootRecordPath}: ${parsed.problem}`);
  return parsed.record;
}

/** Waits until `host` answers over SSH with a boot record of a boot other than `previousBootId`. */
async function waitForBoot(host: string, timeoutMs: number, previousBootId?: string): Promise<BootRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const record = await bootRecord(host);
    if (record !== undefined && record.bootId !== previousBootId) return record;
    if (Date.now() > deadline)
      throw new Error(`${host} did not come up in ${timeoutMs / 1000} s:\n${(await nodes.get(host)!.console()).slice(-3000)}`);
    await sleep(3000);
  }
}

/** `pxeforge fleet status --json`, run inside the namespace as a site's admin host runs it: each member by state, by host name. */
async function fleetStatus(expectedExit: number): Promise<Record<string, FleetNodeRow>> {
  const result = await network!.exec([process.execPath, pxeforgeBin, '--repo', repo.root, '--json', 'fleet', 'status'], {
    timeout: 120_000,
  });
  expect(result.exitCode, String(result.all)).toBe(expectedExit);
  const snapshot = fleetSnapshotSchema.parse(JSON.parse(String(result.stdout)));
  return Object.fromEntries(Object.values(snapshot.nodes).map((node) => [node.host ?? '?', node]));
}

/** What the tree serves now (the current generation's state). */
async function served(): Promise<{ generation: number; squash: string; tiny: string }> {
  const status = JSON.parse(await pxeforge(['--json', 'status'])) as {
    generation: number;
    channels: Record<string, Record<string, { version: string }>>;
  };
  return {
    generation: status.generation,
    squash: status.channels[groups.squashfs.channel]![groups.squashfs.image]!.version,
    tiny: status.channels[groups.initramfs.channel]![groups.initramfs.image]!.version,
  };
}

function expectBooted(record: BootRecord, host: string, expected: { image: string; version: string; generation: number }): void {
  const group = host.startsWith('sq') ? 'squashfs' : 'initramfs';
  expect(record, host).toMatchObject({
    image: expected.image,
    version: expected.version,
    generation: expected.generation,
    group,
    channel: groups[group].channel,
    root: { verified: group === 'squashfs' ? true : null },
  });
  if (group === 'squashfs') expect(record.root.sha256, host).toMatch(/^[0-9a-f]{64}$/);
  expect(record.nodeFiles?.sha256, host).toMatch(/^[0-9a-f]{64}$/);
}

async function rebootAll(hosts: readonly string[]): Promise<Record<string, BootRecord>> {
  const before = Object.fromEntries(await Promise.all(hosts.map(async (host) => [host, (await bootRecord(host))?.bootId] as const)));
  for (const host of hosts) await nodes.get(host)!.monitor('system_reset');
  const after = await Promise.all(hosts.map((host) => waitForBoot(host, 360_000, before[host])));
  return Object.fromEntries(hosts.map((host, index) => [host, after[index]!]));
}

beforeAll(async () => {
  await phase('setup', async () => {
    repo = await tempRecipeRepo();
    const dir = path.dirname(repo.root);
    tftp = path.join(dir, 'tftp');
    secrets = path.join(dir, 'secrets');
    identity = path.join(repo.root, 'var/fleet_ed25519');
    knownHosts = path.join(dir, 'known_hosts');
    // dnsmasq and nginx's workers run as their own users: they reach the tree through here (the secrets stay 0700).
    await chmod(dir, 0o711);
    await placeIpxeLoaders(tftp);
    network = await startFleetNetwork({ tftpRoot: tftp });
    namespace = network.namespace;
    await mkdir(path.dirname(identity), { recursive: true });
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'fleet admin', '-f', identity]);
    const publicKey = await readFile(`${identity}.pub`, 'utf8');
    await repo.write(
      'pxeforge.yaml',
      `store: ${repo.store}
cache: ${repo.cache}
tftpRoot: ${tftp}
secrets: ${secrets}
mirror: host
httpBaseUrl: ${network.httpBaseUrl}
channels:
  staging: {}
  production: {}
nodes:
  "sq[1-2]": { mac: "52:54:00:77:01:{n:02x}", ip: "10.77.0.1{n}/24" }
  "ram[1-2]": { mac: "52:54:00:77:02:{n:02x}", ip: "10.77.0.2{n}/24" }
nodeGroups:
${Object.entries(groups)
  .map(
    ([name, group]) => `  ${name}:
    image: ${group.image}
    channel: ${group.channel}
    hosts: [${group.hosts.join(', ')}]
    hostKeys: managed
    nodeFiles: [fleet]
`,
  )
  .join('')}unknownNodes:
  action: localboot
fleet:
  ssh: { user: root, identityFile: var/fleet_ed25519 }
  parallel: 4
  timeoutSeconds: 10
`,
    );
    // The site's admin key, authorized on every node by its node files.
    await rm(path.join(repo.root, 'nodefiles'), { recursive: true, force: true });
    await mkdir(path.join(repo.root, 'nodefiles/fleet/root/.ssh'), { recursive: true });
    await mkdir(path.join(repo.root, 'nodefiles/fleet/etc'), { recursive: true });
    await repo.write('nodefiles/fleet/etc/hostname.liquid', '{{ host }}\n');
    await repo.write('nodefiles/fleet/root/.ssh/authorized_keys', publicKey);
    await repo.write(
      'nodefiles/fleet.yaml',
      'files:\n  - { path: /root/.ssh, owner: 0, group: 0, mode: "0700" }\n  - { path: /root/.ssh/authorized_keys, owner: 0, group: 0, mode: "0600" }\n',
    );
    await mkdir(path.join(repo.root, 'overlays/fleet/etc'), { recursive: true });
    await repo.write('overlays/fleet/etc/fleet-release', 'first\n');
    for (const [name, text] of Object.entries(recipes)) await repo.write(`recipes/${name}.yaml`, text);
    await repo.git(['add', '-A']);
    await repo.git(['commit', '-qm', 'fleet site']);
    await pxeforge(['nodes', 'known-hosts', '--output', knownHosts]);
    await network.startDnsmasq(await pxeforge(['render', 'dnsmasq']));
  });
  await phase('build tiny and fleet-squash', async () => {
    versions.tiny = await build('tiny');
    versions.squash.push(await build('fleet-squash'));
  });
  await phase('promote both', async () => {
    await pxeforge(['promote', `tiny@${versions.tiny}`, '--channel', groups.initramfs.channel]);
    await pxeforge(['promote', `fleet-squash@${versions.squash[0]}`, '--channel', groups.squashfs.channel]);
  });
}, 900_000);

afterAll(async () => {
  const current = network;
  network = undefined;
  if (current !== undefined) {
    await current.stop();
  }
  await repo?.remove();
  process.stdout.write(
    `fleet test timings: ${timings.map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`).join(', ')}; total ${timings
      .reduce((sum, [, seconds]) => sum + seconds, 0)
      .toFixed(1)} s\n`,
  );
});

describe('a fleet on a real PXE network: DHCP and TFTP by dnsmasq, HTTP by nginx, four QEMU nodes', () => {
  it('every node boots at the same time what its group’s channel serves, squashfs roots verified', async () => {
    const now = await served();
    await phase('boot four nodes at once', async () => {
      for (const host of Object.keys(macs)) nodes.set(host, await network!.startNode({ name: host, mac: macs[host]! }));
      const records = await Promise.all(Object.keys(macs).map((host) => waitForBoot(host, 480_000)));
      for (const [index, host] of Object.keys(macs).entries()) {
        const squash = host.startsWith('sq');
        expectBooted(records[index]!, host, {
          image: squash ? 'fleet-squash' : 'tiny',
          version: squash ? now.squash : now.tiny,
          generation: now.generation,
        });
      }
    });
    // Through the real servers: every node had its fixed address by DHCP, boot.ipxe and its own
    // config over TFTP, the kernel, initrds and (squashfs) root over HTTP.
    const dhcp = await network!.dnsmasqLog();
    for (const [host, mac] of Object.entries(macs)) expect(dhcp).toMatch(new RegExp(`DHCPACK\\(br0\\) ${addresses[host]} ${mac} ${host}`));
    expect(dhcp).toMatch(/sent \S+\/boot\.ipxe to 10\.77\.0\.11/);
    expect(dhcp).toMatch(new RegExp(`sent \\S+/ipxe/(nodes/)?${macs.sq1!.replaceAll(':', '-')}\\.ipxe to 10\\.77\\.0\\.11`));
    const http = await network!.httpLog();
    expect(http).toMatch(
      new RegExp(`^10\\.77\\.0\\.11 .*"GET /pxeforge/images/fleet-squash/${versions.squash[0]}/rootfs\\.squashfs HTTP/1\\.1" 200 `, 'm'),
    );
    expect(http).toMatch(new RegExp(`^10\\.77\\.0\\.21 .*"GET /pxeforge/images/tiny/${versions.tiny}/initrd\\.img HTTP/1\\.1" 200 `, 'm'));

    // What the admin sees: every node current, squashfs roots verified, the initramfs ones not fetched (null).
    const fleet = await phase('fleet status', () => fleetStatus(0));
    expect(Object.keys(fleet).sort()).toEqual(Object.keys(macs).sort());
    for (const host of Object.keys(macs)) {
      const squash = host.startsWith('sq');
      expect(fleet[host], host).toMatchObject({
        state: 'current',
        verified: squash ? true : null,
        booted: { image: squash ? 'fleet-squash' : 'tiny', version: squash ? now.squash : now.tiny, generation: now.generation },
      });
    }
  }, 600_000);

  it('promote a new version → its nodes reboot into it; rollback → reboot → the old one', async () => {
    await phase('build and promote a second fleet-squash', async () => {
      await repo.write('overlays/fleet/etc/fleet-release', 'second\n');
      await repo.git(['commit', '-qam', 'second release']);
      versions.squash.push(await build('fleet-squash'));
      await pxeforge(['promote', `fleet-squash@${versions.squash[1]}`, '--channel', groups.squashfs.channel]);
    });
    const promoted = await served();
    expect(promoted.squash).toBe(versions.squash[1]);
    // Still running the first until they reboot: pending reboot, not drift (exit 0); the others untouched.
    expect((await bootRecord('sq1'))?.version).toBe(versions.squash[0]);
    const pending = await fleetStatus(0);
    for (const host of groups.squashfs.hosts)
      expect(pending[host], host).toMatchObject({ state: 'pending reboot', booted: { version: versions.squash[0] } });
    for (const host of groups.initramfs.hosts) expect(pending[host]?.state, host).toBe('current');
    const rebooted = await phase('reboot the squashfs nodes into the new version', () => rebootAll(groups.squashfs.hosts));
    for (const host of groups.squashfs.hosts)
      expectBooted(rebooted[host]!, host, { image: 'fleet-squash', version: versions.squash[1]!, generation: promoted.generation });
    // The initramfs nodes were not touched: still current on their generation.
    expect((await bootRecord('ram1'))?.version).toBe(versions.tiny);
    const landed = await fleetStatus(0);
    for (const host of Object.keys(macs)) expect(landed[host]?.state, host).toBe('current');
    for (const host of groups.squashfs.hosts) expect(landed[host]?.booted?.version, host).toBe(versions.squash[1]);

    await pxeforge(['rollback', 'fleet-squash', '--channel', groups.squashfs.channel, '--reason', 'fleet test']);
    const rolledBack = await served();
    expect(rolledBack.squash).toBe(versions.squash[0]);
    const rolling = await fleetStatus(0);
    for (const host of groups.squashfs.hosts) expect(rolling[host]?.state, host).toBe('pending reboot');
    const back = await phase('reboot the squashfs nodes after the rollback', () => rebootAll(groups.squashfs.hosts));
    for (const host of groups.squashfs.hosts)
      expectBooted(back[host]!, host, { image: 'fleet-squash', version: versions.squash[0]!, generation: rolledBack.generation });
    const after = await fleetStatus(0);
    for (const host of Object.keys(macs)) expect(after[host]?.state, host).toBe('current');
    for (const host of groups.squashfs.hosts) expect(after[host]?.booted?.version, host).toBe(versions.squash[0]);
  }, 900_000);

  it('a squashfs changed in the tree is refused by the node that fetches it; a MAC in no group gets the unknown-node action', async () => {
    await phase('tampered root refused, unknown node', async () => {
      // One byte changed in the placed root, at the same path (a new file renamed over it: the store keeps its own).
      const placed = path.join(tftp, 'pxeforge/images/fleet-squash', versions.squash[0]!, 'rootfs.squashfs');
      const copy = `${placed}.tampered`;
      await copyFile(placed, copy);
      const handle = await open(copy, 'r+');
      const { size } = await stat(copy);
      const at = Math.floor(size / 2);
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, at);
      byte[0] = byte[0]! ^ 0xff;
      await handle.write(byte, 0, 1, at);
      await handle.close();
      await rename(copy, placed);

      const sq2 = nodes.get('sq2')!;
      const from = (await sq2.console()).length;
      await sq2.monitor('system_reset');
      const stranger = await network!.startNode({ name: 'stranger', mac: strangerMac, memoryMiB: 512 });
      const refused = await sq2.waitForConsole(/pxeforge: root image digest mismatch:[^\n]*/, 360_000, from);
      const line = /pxeforge: root image digest mismatch:[^\n]*/.exec(refused.slice(from))![0];
      expect(line).toContain(`/pxeforge/images/fleet-squash/${versions.squash[0]}/rootfs.squashfs`);
      // Nothing was mounted: no login prompt after the refusal, and no SSH.
      await sleep(5000);
      expect((await sq2.console()).slice(from)).not.toMatch(/login:/);
      expect(await bootRecord('sq2')).toBeUndefined();
      // sq1 booted the intact root before: still current.
      expect((await bootRecord('sq1'))?.root.verified).toBe(true);
      // fleet status names the node that did not come up; the others are current (no drift: exit 0).
      const fleet = await fleetStatus(0);
      expect(fleet.sq2).toMatchObject({ state: 'unreachable', booted: null });
      expect(fleet.sq2?.problem).toBeTruthy();
      for (const host of ['sq1', 'ram1', 'ram2']) expect(fleet[host]?.state, host).toBe('current');

      // The stranger: an address from the range, boot.ipxe, no config of its MAC, the unknown-node config.
      const deadline = Date.now() + 180_000;
      for (;;) {
        const log = await network!.dnsmasqLog();
        if (/sent \S+\/ipxe\/unknown\.ipxe to 10\.77\.0\.1\d\d/.test(log)) break;
        if (Date.now() > deadline) throw new Error(`the unknown node fetched no unknown.ipxe:\n${log.slice(-3000)}`);
        await sleep(1000);
      }
      const log = await network!.dnsmasqLog();
      expect(log).toMatch(new RegExp(`DHCPACK\\(br0\\) 10\\.77\\.0\\.1\\d\\d ${strangerMac}`));
      expect(log).toMatch(new RegExp(`file \\S+/ipxe/${strangerMac.replaceAll(':', '-')}\\.ipxe not found`));
      const unknown = await readFile(path.join(tftp, 'pxeforge/current/ipxe/unknown.ipxe'), 'utf8');
      expect(unknown).toContain('booting from local disk');
      expect(unknown).toMatch(/^exit$/m);
      await stranger.stop();
    });
  }, 600_000);
});

describe('the network is gone after the test', () => {
  it('stops every process it started and deletes its namespace', async () => {
    const current = network!;
    const started = current.started();
    // nginx, dnsmasq, four nodes and the stranger.
    expect(started.length).toBe(7);
    expect(current.processes().length).toBeGreaterThan(0);
    await current.stop();
    network = undefined;
    expect(namespaceExists(namespace)).toBe(false);
    const alive = started.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive).toEqual([]);
  }, 60_000);
});
