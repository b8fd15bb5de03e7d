import { chmod, copyFile, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { execa, type ResultPromise } from 'execa';
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
 * managed host key checked: every node booted what its group's channel serves; a rollout of
 * an image whose check-in service fails stops after the canary, which pxeforge moves back and reboots into
 * the old version while no other node is rebooted; a good image rolls out in waves `1,100%`,
 * survives pxeforge killed with SIGKILL in the first wave, and `rollout resume` brings every
 * production node to it; a rollback after it leaves both pending reboot, and a reboot brings the
 * old version back; a squashfs changed in the tree is refused by the node itself; a MAC in no
 * group gets the unknown-node action. Reboots go through the site's `rollout.reboot`
 * template: `power-cycle.mjs {bmc}`, each node's QEMU monitor standing in for its BMC.
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
const powerCycle = path.join(projectRoot, 'vm-tests/helpers/power-cycle.mjs');
/** The site-wide health check of the rollouts: a node whose units failed is not healthy, whatever the image changed. */
const noFailedUnits = 'no failed units';

const recipes: Record<string, string> = {
  // tiny with its root as a squashfs fetched over HTTP: tiny's cached layers below, the netboot packages above.
  'fleet-squash': `name: fleet-squash
extends: tiny
overlays: [fleet]
packages:
  sets: [squashfs-netboot]
services:
  enable: [fleet-checkin]
output:
  format: squashfs
tests:
  checks:
    - { name: root is in RAM, run: "findmnt -no FSTYPE /", expect: overlay }
`,
};

/** A oneshot check-in with the site's server that refuses a configuration naming none: what a release can break without breaking the boot. */
const fleetCheckinUnit = `[Unit]
Description=Fleet check-in
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'grep -q "^server=" /etc/fleet-checkin.conf || { echo "fleet-checkin: /etc/fleet-checkin.conf names no server" >&2; exit 1; }'

[Install]
WantedBy=multi-user.target
`;

let repo: TempRepo;
let network: FleetNetwork | undefined;
let tftp: string;
let secrets: string;
let knownHosts: string;
let identity: string;
const nodes = new Map<string, FleetNode>();
/** fleet-squash: the first version, one whose check-in service fails at boot, and a good second one. */
const versions = { tiny: '', first: '', bad: '', good: '' };
const timings: [string, number][] = [];
/** Lines of the rollouts' own timings (per wave, failed check → canary back), printed again at the end. */
const timingNotes: string[] = [];
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

/** The rollout record as the tests read it (contract: `<tftp-root>/pxeforge/rollout.json`). */
interface RolloutRecord {
  id: string;
  image: string;
  channel: string;
  from: string;
  to: string;
  state: string;
  startedAt: string;
  log: { at: string; message: string }[];
  waves: {
    number: number;
    state: string;
    nodes: { host: string | null; mac: string; group: string }[];
    results: { host: string | null; mac: string; ok: boolean; check: string | null; reason: string | null; output: string | null }[];
    generation: number | null;
    rollbackGeneration: number | null;
    startedAt: string | null;
    rebootedAt: string | null;
    /** When its gate decided (passed or failed). */
    decidedAt: string | null;
    endedAt: string | null;
  }[];
}

async function rolloutRecord(): Promise<RolloutRecord | undefined> {
  try {
    return JSON.parse(await readFile(path.join(tftp, 'pxeforge/rollout.json'), 'utf8')) as RolloutRecord;
  } catch {
    return undefined; // not there yet, or (never, with atomic writes) half written
  }
}

/** One line of `pxeforge/history.jsonl` as the tests read it. */
interface HistoryLine {
  action: string;
  image?: string;
  channel?: string;
  version?: string;
  nodes?: string[];
  wave?: number | null;
}

async function history(): Promise<HistoryLine[]> {
  const text = await readFile(path.join(tftp, 'pxeforge/history.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as HistoryLine);
}

/** `pxeforge <args>` run inside the namespace, as a site's admin host runs it (its SSH reaches the nodes). */
function inNamespace(args: string[], timeoutMs: number): ResultPromise {
  return network!.exec([process.execPath, pxeforgeBin, '--repo', repo.root, ...args], { timeout: timeoutMs, env: { CI: 'true' } });
}

/** `pxeforge rollout start fleet-squash@<version>` to the squashfs nodes' channel in waves 1,100%, in the namespace. */
function startRollout(version: string): ResultPromise {
  return inNamespace(
    ['rollout', 'start', `fleet-squash@${version}`, '--channel', groups.squashfs.channel, '--waves', '1,100%', '--reason', 'fleet test'],
    900_000,
  );
}

/** When the test first saw each wave in each state (`wave 1: checking` → its clock, ms). */
type Seen = Map<string, number>;

/**
 * Watches the rollout record while `run` lasts (every 0.5 s), noting when each wave entered each
 * state; returns the record that satisfied `until`, or the last one once `run` ended.
 */
async function watchRollout(
  run: ResultPromise,
  seen: Seen,
  until?: (record: RolloutRecord) => boolean,
): Promise<RolloutRecord | undefined> {
  let ended = false;
  void run.then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  for (;;) {
    const wasEnded = ended;
    const record = await rolloutRecord();
    for (const wave of record?.waves ?? []) {
      const key = `wave ${wave.number}: ${wave.state}`;
      if (!seen.has(key)) seen.set(key, Date.now());
    }
    if (record !== undefined && until?.(record) === true) return record;
    if (wasEnded) return record;
    await sleep(500);
  }
}

/** A background pxeforge that a failing test leaves running is ended with it. */
async function ensureEnded(run: ResultPromise): Promise<void> {
  if (run.exitCode === null && run.signalCode === null && run.pid !== undefined) {
    try {
      process.kill(run.pid, 'SIGKILL');
    } catch {
      // ended meanwhile
    }
  }
  await run.catch(() => undefined);
}

const seconds = (from: string | number | null | undefined, to: string | number | null | undefined): string =>
  from === null || from === undefined || to === null || to === undefined
    ? '?'
    : ((Number(typeof to === 'string' ? Date.parse(to) : to) - Number(typeof from === 'string' ? Date.parse(from) : from)) / 1000).toFixed(
        1,
      );

/** Each wave's nodes and time from its record (start → end), as the closing note gives them. */
function waveTimings(label: string, record: RolloutRecord): void {
  for (const wave of record.waves) {
    const line = `fleet test: ${label}: wave ${wave.number} (${wave.nodes.map((node) => node.host ?? node.mac).join(', ')}): ${wave.state}, ${seconds(wave.startedAt, wave.endedAt)} s (reboot issued after ${seconds(wave.startedAt, wave.rebootedAt)} s, gate decided after ${seconds(wave.startedAt, wave.decidedAt)} s)`;
    process.stdout.write(`${line}\n`);
    timingNotes.push(line);
  }
  // The rollout's own account of its steps, seconds from its start.
  for (const entry of record.log)
    process.stdout.write(`fleet test: ${label}: +${seconds(record.startedAt, entry.at)} s ${entry.message}\n`);
}

/** Boots since `from` on a node's console: the kernel's banner at each start. */
async function bootsSince(host: string, from: number): Promise<number> {
  return ((await nodes.get(host)!.console()).slice(from).match(/Linux version \d/g) ?? []).length;
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
  "sq[1-2]": { mac: "52:54:00:77:01:{n:02x}", ip: "10.77.0.1{n}/24", bmc: "${network.monitorSocket('sq{n}')}" }
  "ram[1-2]": { mac: "52:54:00:77:02:{n:02x}", ip: "10.77.0.2{n}/24", bmc: "${network.monitorSocket('ram{n}')}" }
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
rollout:
  # The nodes' BMCs: a power cycle through each one's QEMU monitor.
  reboot: [${JSON.stringify(process.execPath)}, ${JSON.stringify(powerCycle)}, "{bmc}"]
  checks:
    - name: ${noFailedUnits}
      run: "systemctl is-system-running --wait >/dev/null; systemctl --failed --no-legend --plain --no-pager"
      expect: ""
      timeout: 120
  healthTimeoutSeconds: 480
  rebootTimeoutSeconds: 30
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
    // The site's check-in service: checks its configuration at boot; a release that breaks it leaves a failed unit.
    await mkdir(path.join(repo.root, 'overlays/fleet/etc/systemd/system'), { recursive: true });
    await repo.write('overlays/fleet/etc/systemd/system/fleet-checkin.service', fleetCheckinUnit);
    await repo.write('overlays/fleet/etc/fleet-checkin.conf', 'server=10.77.0.1\n');
    for (const [name, text] of Object.entries(recipes)) await repo.write(`recipes/${name}.yaml`, text);
    await repo.git(['add', '-A']);
    await repo.git(['commit', '-qm', 'fleet site']);
    await pxeforge(['nodes', 'known-hosts', '--output', knownHosts]);
    await network.startDnsmasq(await pxeforge(['render', 'dnsmasq']));
  });
  await phase('build tiny and fleet-squash', async () => {
    versions.tiny = await build('tiny');
    versions.first = await build('fleet-squash');
  });
  await phase('promote both', async () => {
    await pxeforge(['promote', `tiny@${versions.tiny}`, '--channel', groups.initramfs.channel]);
    await pxeforge(['promote', `fleet-squash@${versions.first}`, '--channel', groups.squashfs.channel]);
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
  for (const note of timingNotes) process.stdout.write(`${note}\n`);
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
      new RegExp(`^10\\.77\\.0\\.11 .*"GET /pxeforge/images/fleet-squash/${versions.first}/rootfs\\.squashfs HTTP/1\\.1" 200 `, 'm'),
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

  it('a bad image stops after the canary: pxeforge moves it back and reboots it into the old version; no other node is rebooted', async () => {
    await phase('build a bad and a good fleet-squash', async () => {
      // The bad release: the check-in configuration lost its server line (a typo), so the service fails at boot.
      await repo.write('overlays/fleet/etc/fleet-checkin.conf', 'sever=10.77.0.1\n');
      await repo.write('overlays/fleet/etc/fleet-release', 'bad\n');
      await repo.git(['commit', '-qam', 'bad release']);
      versions.bad = await build('fleet-squash');
      await repo.write('overlays/fleet/etc/fleet-checkin.conf', 'server=10.77.0.1\n');
      await repo.write('overlays/fleet/etc/fleet-release', 'second\n');
      await repo.git(['commit', '-qam', 'second release']);
      versions.good = await build('fleet-squash');
    });
    expect(new Set([versions.first, versions.bad, versions.good]).size).toBe(3);
    const before = await served();
    expect(before.squash).toBe(versions.first);
    const hosts = Object.keys(macs);
    const bootIds = Object.fromEntries(await Promise.all(hosts.map(async (host) => [host, (await bootRecord(host))!.bootId] as const)));
    const consoles = Object.fromEntries(
      await Promise.all(hosts.map(async (host) => [host, (await nodes.get(host)!.console()).length] as const)),
    );
    const httpFrom = (await network!.httpLog()).length;
    const historyFrom = (await history()).length;

    const seen: Seen = new Map();
    const run = startRollout(versions.bad);
    let record: RolloutRecord | undefined;
    try {
      record = await phase('rollout of the bad image: canary, failed check, rollback', () => watchRollout(run, seen));
    } finally {
      await ensureEnded(run);
    }
    const result = await run;
    expect(result.exitCode, String(result.all)).toBe(1);
    record = await rolloutRecord();
    expect(record).toMatchObject({
      image: 'fleet-squash',
      channel: groups.squashfs.channel,
      from: versions.first,
      to: versions.bad,
      state: 'stopped',
    });
    const [first, second] = record!.waves;
    expect(record!.waves.length).toBe(2);
    expect(first!.nodes.length).toBe(1);
    const canary = first!.nodes[0]!.host!;
    expect(groups.squashfs.hosts as readonly string[]).toContain(canary);
    const other = groups.squashfs.hosts.find((host) => host !== canary)!;
    expect(first!.state).toBe('rolled back');
    expect(second!.state).toBe('pending');
    expect(second!.nodes.map((node) => node.host)).toEqual([other]);
    const failure = first!.results.find((entry) => entry.host === canary);
    expect(failure).toMatchObject({ ok: false, check: noFailedUnits });
    expect(failure!.output).toContain('fleet-checkin.service');
    // The report names the node, the check and what the node printed.
    expect(String(result.all)).toContain(canary);
    expect(String(result.all)).toContain(noFailedUnits);
    expect(String(result.all)).toContain('fleet-checkin.service');
    const status = JSON.parse(await pxeforge(['rollout', 'status', '--json'])) as RolloutRecord;
    expect(status).toMatchObject({ id: record!.id, state: 'stopped' });

    // The canary booted the bad image, then, moved back by pxeforge, the old one: two boots, both roots fetched in that order.
    const now = await served();
    expect(now.squash).toBe(versions.first);
    expect(first!.rollbackGeneration).toBe(now.generation);
    const back = await bootRecord(canary);
    expectBooted(back!, canary, { image: 'fleet-squash', version: versions.first, generation: now.generation });
    expect(back!.bootId).not.toBe(bootIds[canary]);
    expect(await bootsSince(canary, consoles[canary]!)).toBe(2);
    const http = (await network!.httpLog()).slice(httpFrom);
    const fetched = (version: string) =>
      http.search(
        new RegExp(
          `^${addresses[canary]!.replaceAll('.', '\\.')} .*"GET /pxeforge/images/fleet-squash/${version}/rootfs\\.squashfs HTTP/1\\.1" 200 `,
          'm',
        ),
      );
    expect(fetched(versions.bad)).toBeGreaterThanOrEqual(0);
    expect(fetched(versions.first)).toBeGreaterThan(fetched(versions.bad));
    // Never rebooted: the other production node and both staging nodes.
    for (const host of [other, ...groups.initramfs.hosts]) {
      expect((await bootRecord(host))?.bootId, host).toBe(bootIds[host]);
      expect(await bootsSince(host, consoles[host]!), host).toBe(0);
    }
    const fleet = await fleetStatus(0);
    for (const host of hosts) expect(fleet[host]?.state, host).toBe('current');
    for (const host of groups.squashfs.hosts) expect(fleet[host]?.booted?.version, host).toBe(versions.first);

    // History: the wave that moved the canary, and the automatic rollback that moved it back.
    const lines = (await history()).slice(historyFrom);
    const named = (line: HistoryLine) => line.nodes?.some((node) => node === canary || node === macs[canary]) === true;
    expect(lines.find((line) => line.action === 'rollout')).toMatchObject({
      image: 'fleet-squash',
      channel: groups.squashfs.channel,
      wave: 1,
    });
    expect(named(lines.find((line) => line.action === 'rollout')!)).toBe(true);
    expect(named(lines.find((line) => line.action === 'rollout-rollback')!)).toBe(true);
    expect(lines.some((line) => line.action === 'rollout-complete')).toBe(false);

    waveTimings('bad image', record!);
    const failedAt = Math.min(...['failed', 'rolling back'].map((state) => seen.get(`wave 1: ${state}`) ?? Number.POSITIVE_INFINITY));
    const note = `fleet test: failed check → canary back on the old image: ${seconds(first!.decidedAt, first!.endedAt)} s by the record (gate decided → wave ended), ${seconds(failedAt, seen.get('wave 1: rolled back'))} s by the test's clock (the record read every 0.5 s)`;
    process.stdout.write(`${note}\n`);
    timingNotes.push(note);
  }, 1_200_000);

  it('a good image rolls out in waves 1,100%: pxeforge killed with SIGKILL in wave 1, resumed, every production node ends on it', async () => {
    const hosts = Object.keys(macs);
    const bootIds = Object.fromEntries(await Promise.all(hosts.map(async (host) => [host, (await bootRecord(host))!.bootId] as const)));
    const historyFrom = (await history()).length;
    const seen: Seen = new Map();
    const run = startRollout(versions.good);
    let canary: string;
    try {
      const checking = await phase('rollout of the good image: wave 1 up to its health gate', () =>
        watchRollout(run, seen, (record) => record.to === versions.good && record.waves[0]?.state === 'checking'),
      );
      if (checking?.waves[0]?.state !== 'checking')
        throw new Error(`rollout start ended before wave 1 reached its gate:\n${(await run).all}`);
      canary = checking!.waves[0]!.nodes[0]!.host!;
      // `ip netns exec` execs: the pid is pxeforge's own process, which the admin host's crash takes with it.
      const cmdline = (await readFile(`/proc/${run.pid}/cmdline`, 'utf8')).split('\0');
      expect(cmdline).toContain(pxeforgeBin);
      process.kill(run.pid!, 'SIGKILL');
      const killed = await run;
      expect(killed.signal).toBe('SIGKILL');
    } finally {
      await ensureEnded(run);
    }

    // What the crash left: a consistent record, the rollout running, wave 1 at its gate, no controller.
    const left = JSON.parse(await pxeforge(['rollout', 'status', '--json'])) as RolloutRecord;
    expect(left).toMatchObject({ to: versions.good, state: 'running' });
    expect(left.waves[0]).toMatchObject({ state: 'checking', nodes: [{ host: canary }] });
    expect(left.waves[1]?.state).toBe('pending');
    const text = await pxeforge(['rollout', 'status']);
    expect(text).toContain('no controller works on it');

    const resumed = await phase('rollout resume: wave 1 gate, wave 2', () => inNamespace(['rollout', 'resume'], 900_000));
    expect(resumed.exitCode, String(resumed.all)).toBe(0);
    const record = (await rolloutRecord())!;
    expect(record).toMatchObject({ to: versions.good, state: 'completed' });
    for (const wave of record.waves) expect(wave.state, `wave ${wave.number}`).toBe('passed');

    const now = await served();
    expect(now.squash).toBe(versions.good);
    const fleet = await fleetStatus(0);
    for (const host of hosts) expect(fleet[host]?.state, host).toBe('current');
    for (const host of groups.squashfs.hosts) {
      expect(fleet[host]?.booted?.version, host).toBe(versions.good);
      expect(fleet[host]?.verified, host).toBe(true);
    }
    // The staging nodes were not touched.
    for (const host of groups.initramfs.hosts) expect((await bootRecord(host))?.bootId, host).toBe(bootIds[host]);

    const lines = (await history()).slice(historyFrom);
    const waves = lines.filter((line) => line.action === 'rollout').map((line) => line.wave);
    expect(waves).toEqual([1, 2]);
    expect(lines.filter((line) => line.action === 'rollout-complete').length).toBe(1);
    expect(lines.some((line) => line.action === 'rollout-rollback')).toBe(false);
    waveTimings('good image', record);
  }, 1_200_000);

  it('rollback after the rollout → the squashfs nodes pending reboot; one rebooted → the old version', async () => {
    await pxeforge(['rollback', 'fleet-squash', '--channel', groups.squashfs.channel, '--reason', 'fleet test']);
    const rolledBack = await served();
    expect(rolledBack.squash).toBe(versions.first);
    // Still running the rolled-out version until they reboot: pending reboot, not drift (exit 0); the others untouched.
    const pending = await fleetStatus(0);
    for (const host of groups.squashfs.hosts)
      expect(pending[host], host).toMatchObject({ state: 'pending reboot', booted: { version: versions.good } });
    for (const host of groups.initramfs.hosts) expect(pending[host]?.state, host).toBe('current');
    const before = (await bootRecord('sq1'))!.bootId;
    await nodes.get('sq1')!.monitor('system_reset');
    const back = await phase('rollback: reboot sq1 into the old version', () => waitForBoot('sq1', 360_000, before));
    expectBooted(back, 'sq1', { image: 'fleet-squash', version: versions.first, generation: rolledBack.generation });
    const after = await fleetStatus(0);
    expect(after.sq1).toMatchObject({ state: 'current', booted: { version: versions.first } });
    expect(after.sq2?.state).toBe('pending reboot');
  }, 600_000);

  it('a squashfs changed in the tree is refused by the node that fetches it; a MAC in no group gets the unknown-node action', async () => {
    await phase('tampered root refused, unknown node', async () => {
      // One byte changed in the placed root, at the same path (a new file renamed over it: the store keeps its own).
      const { squash } = await served();
      const placed = path.join(tftp, 'pxeforge/images/fleet-squash', squash, 'rootfs.squashfs');
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
      expect(line).toContain(`/pxeforge/images/fleet-squash/${squash}/rootfs.squashfs`);
      // Nothing was mounted: no login prompt after the refusal, and no SSH.
      await sleep(5000);
      expect((await sq2.console()).slice(from)).not.toMatch(/login:/);
      expect(await bootRecord('sq2')).toBeUndefined();
      // sq1 booted the intact root before (after the rollback): still current.
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
