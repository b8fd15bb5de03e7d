import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureNode, type FleetServer, startFleetServer } from '../../scripts/fleet-ssh-server.mjs';
import { main } from '../../src/cli/main.js';
import { fleetAccess } from '../../src/fleet/fleet-status.js';
import type { BootRecord } from '../../src/nodes/boot-record.js';
import { knownHostsLine, newEd25519KeyPair } from '../../src/nodes/host-keys.js';
import { hostKeyFiles } from '../../src/nodes/node-file.js';
import type { TreeState } from '../../src/promote/tree.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { gatherReport } from '../../src/report/gather.js';
import { fleetSnapshotFile, readFleetSnapshot } from '../../src/report/fleet-snapshot.js';
import { renderReport } from '../../src/report/render.js';
import { checkNode } from '../../src/rollout/health.js';
import { loadSiteConfig } from '../../src/site/site-config.js';
import { runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';

/**
 * `pxeforge fleet status` against real SSH: one ssh2 server on loopback answers as every node
 * (127.77.x.y), each with its own host key, and the real CLI reads them.
 */
const c1 = '20261125T100000Z-11111111';
const c2 = '20261125T110000Z-22222222';
const t1 = '20261125T100000Z-33333333';

const compute = ['cn001', 'cn002', 'cn003', 'cn004', 'cn005', 'cn006', 'cn007', 'cn008', 'cn009', 'cn010', 'cn011', 'cn012'];
const address = (host: string) => {
  const login = /^ln(\d)$/.exec(host);
  return login === null ? `127.77.0.${Number(host.slice(2))}` : `127.77.1.${login[1]}`;
};
const mac = (n: number, group = 0x10) => `52:54:00:00:${group.toString(16)}:${n.toString(16).padStart(2, '0')}`;

let site: TreeSite;
let server: FleetServer;
const nodes = new Map<string, FixtureNode>();
const fleetKey = newEd25519KeyPair('test');
const strangerKey = newEd25519KeyPair('test');
let rootSha = '';
let promotedAt = 0;

const archives = new Map<string, string>();

function record(host: string, fields: Partial<BootRecord> = {}): BootRecord {
  return {
    schemaVersion: 1,
    image: 'compute',
    version: c2,
    generation: 3,
    group: 'compute',
    channel: 'production',
    root: { sha256: rootSha, verified: true },
    nodeFiles: archives.has(host) ? { sha256: archives.get(host)! } : null,
    kernel: '6.1.0-test',
    bootedAt: new Date(promotedAt + 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    bootId: '0f6d2c1e-0000-4000-8000-000000000001',
    ...fields,
  };
}
const answer = (value: unknown) => ({ text: typeof value === 'string' ? value : JSON.stringify(value) });

function siteYaml(port: number, extra = ''): string {
  const lines = ['store: store', 'tftpRoot: tftp', 'httpBaseUrl: http://10.0.2.2:8080', 'nodes:'];
  for (const [index, host] of compute.entries()) lines.push(`  ${host}: { mac: "${mac(index + 1)}", ip: "${address(host)}/16" }`);
  for (const n of [1, 2, 3]) lines.push(`  ln${n}: { mac: "${mac(n, 0x20)}", ip: "${address(`ln${n}`)}" }`);
  lines.push(
    'nodeGroups:',
    '  compute: { image: compute, channel: production, hosts: ["cn[001-012]"], hostKeys: managed }',
    '  login: { image: tiny, channel: staging, hosts: ["ln[1-3]"] }',
    '  canary: { image: tiny, channel: staging, macs: ["52:54:00:12:34:56"] }',
    'fleet:',
    `  ssh: { user: admin, identityFile: secrets-outside/fleet_key, port: ${port}, knownHosts: known_hosts }`,
    '  parallel: 3',
    '  timeoutSeconds: 1',
    extra,
  );
  return `${lines.join('\n')}\n`;
}

async function cliWith(signal: AbortSignal, ...argv: string[]) {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const exitCode = await main(['--repo', site.repo, ...argv], { stdout, stderr: new PassThrough(), cwd: site.repo, signal });
  return { exitCode, stdout: Buffer.concat(chunks).toString() };
}

beforeAll(async () => {
  server = await startFleetServer({ authorizedKey: fleetKey.public, nodes });
  site = await makeTreeSite(siteYaml(server.port));
  await writeFile(path.join(site.repo, 'pxeforge.yaml'), siteYaml(server.port));
  await mkdir(path.join(site.repo, 'secrets-outside'), { mode: 0o700 });
  await writeFile(path.join(site.repo, 'secrets-outside/fleet_key'), fleetKey.private, { mode: 0o600 });

  await makeVersion(site.store, 'compute', c1, { tested: 'passed' });
  await makeVersion(site.store, 'compute', c2, { tested: 'passed' });
  await makeVersion(site.store, 'tiny', t1);
  const manifest = JSON.parse(await readFile(path.join(site.store, 'images/compute', c2, 'manifest.json'), 'utf8'));
  rootSha = manifest.artifacts['rootfs.squashfs'].sha256;
  const cli = (...argv: string[]) => runCli(argv, site.repo);
  expect((await cli('promote', `compute@${c1}`, '--channel', 'production', '--reason', 'first')).exitCode).toBe(0);
  expect((await cli('promote', `compute@${c2}`, '--channel', 'production', '--reason', 'second')).exitCode).toBe(0);
  promotedAt = Date.now();
  expect((await cli('promote', `tiny@${t1}`, '--channel', 'staging')).exitCode).toBe(0);

  // The managed group's members get their host keys in their node archives (made at the first
  // promotion); cn011's key is gone since. The login nodes' keys are in known_hosts.
  const secrets = path.join(site.repo, 'var/secrets');
  const keys = new Map<string, string>();
  for (const host of compute) keys.set(host, (await readFile(hostKeyFiles(secrets, host).private)).toString());
  await rm(path.dirname(hostKeyFiles(secrets, 'cn011').private), { recursive: true });
  const state = JSON.parse(await readFile(path.join(site.tftp, 'pxeforge/current/state.json'), 'utf8')) as TreeState;
  for (const [index, host] of compute.entries()) archives.set(host, state.files[state.nodes![mac(index + 1)]!.archive]!.sha256);
  const loginKeys = ['ln1', 'ln2', 'ln3'].map(() => newEd25519KeyPair('test'));
  await writeFile(
    path.join(site.repo, 'known_hosts'),
    [
      `# the login nodes: ln1 by its address, ln3 listed with another key than the one it presents`,
      knownHostsLine(`[${address('ln1')}]:${server.port}`, undefined, loginKeys[0]!.public),
      knownHostsLine(`[ln3]:${server.port}`, undefined, loginKeys[2]!.public),
      '',
    ].join('\n'),
  );

  const stale = { image: 'compute', version: c1, generation: 1, bootedAt: '2020-01-01T00:00:00Z' };
  const set = (host: string, hostKey: string, value: FixtureNode['answer']) => nodes.set(address(host), { hostKey, answer: value });
  set('cn001', keys.get('cn001')!, answer(record('cn001')));
  set('cn002', keys.get('cn002')!, answer(record('cn002', stale)));
  set('cn003', keys.get('cn003')!, answer(record('cn003', { version: c1, generation: 2 })));
  set('cn004', keys.get('cn004')!, answer(record('cn004', { root: { sha256: rootSha, verified: false } })));
  set('cn005', keys.get('cn005')!, 'missing');
  set('cn006', keys.get('cn006')!, answer('{"schemaVersion": 1, "image": '));
  set('cn007', keys.get('cn007')!, 'hang');
  set('cn008', strangerKey.private, answer(record('cn008')));
  set('cn009', keys.get('cn009')!, 'close');
  set('cn010', keys.get('cn010')!, answer(record('cn010', { image: '\u001b]0;owned\u0007compute', kernel: '\u001b[2J' })));
  set('cn011', keys.get('cn011')!, answer(record('cn011')));
  set('cn012', keys.get('cn012')!, answer(record('cn012', { nodeFiles: { sha256: 'e'.repeat(64) } })));
  set('ln1', loginKeys[0]!.private, answer(record('ln1', { image: 'tiny', version: t1, root: { sha256: null, verified: null } })));
  set('ln2', loginKeys[1]!.private, answer(record('ln2', { image: 'tiny', version: t1, root: { sha256: null, verified: null } })));
  set('ln3', strangerKey.private, answer(record('ln3', { image: 'tiny', version: t1, root: { sha256: null, verified: null } })));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await site?.remove();
});

describe('pxeforge fleet status', () => {
  let run: { exitCode: number; stdout: string };
  let elapsed = 0;
  let maxOpen = 0;

  beforeAll(async () => {
    const started = Date.now();
    server.stats.maxOpen = 0;
    run = await cliWith(new AbortController().signal, '--json', 'fleet', 'status');
    elapsed = Date.now() - started;
    maxOpen = server.stats.maxOpen;
  }, 30_000);

  const node = (key: string) => (JSON.parse(run.stdout) as { nodes: Record<string, Record<string, unknown>> }).nodes[key]!;
  const cn = (n: number) => node(mac(n));

  it('classifies every member: current, pending reboot, drift, unreachable', () => {
    expect(cn(1)).toMatchObject({ state: 'current', verified: true, host: 'cn001', address: '127.77.0.1', group: 'compute' });
    expect(cn(2)).toMatchObject({ state: 'pending reboot', pendingReboot: true, booted: { version: c1, generation: 1 } });
    expect(cn(3)).toMatchObject({ state: 'drift', problem: 'it booted after the change and runs other image version' });
    expect(cn(4)).toMatchObject({ state: 'drift', verified: false, problem: 'its root was not verified' });
    expect(cn(5)).toMatchObject({ state: 'drift', booted: null, problem: expect.stringMatching(/^no boot record/) });
    expect(cn(6)).toMatchObject({ state: 'drift', booted: null, problem: 'the boot record is not valid JSON' });
    expect(cn(12)).toMatchObject({ state: 'drift', problem: 'it booted after the change and runs other node files' });
    expect(node(mac(1, 0x20))).toMatchObject({ state: 'current', verified: null, expected: { image: 'tiny', version: t1 } });
    expect(node('52:54:00:12:34:56')).toMatchObject({ state: 'unreachable', host: null, problem: 'no address in pxeforge.yaml' });
  });

  it('says what each member should boot: the current generation, its version, its node files', () => {
    expect(cn(1)).toMatchObject({
      channel: 'production',
      expected: { image: 'compute', version: c2, generation: 3, nodeFiles: archives.get('cn001') },
      booted: { image: 'compute', version: c2, generation: 3 },
    });
  });

  it('never accepts an unknown or different host key', () => {
    expect(cn(8)).toMatchObject({ state: 'unreachable', problem: 'host key mismatch' });
    // No key known: not even connected to.
    expect(cn(11)).toMatchObject({ state: 'unreachable', problem: 'no managed host key in the secrets directory' });
    expect(server.stats.seen.has('127.77.0.11')).toBe(false);
    expect(node(mac(2, 0x20))).toMatchObject({ state: 'unreachable', problem: 'no known host key in the known hosts file' });
    expect(server.stats.seen.has('127.77.1.2')).toBe(false);
    expect(node(mac(3, 0x20))).toMatchObject({ state: 'unreachable', problem: 'host key mismatch' });
    // A node whose key was refused never got a command.
    const commanded = server.stats.commands.map((line) => line.split(' ')[0]);
    expect(commanded).toContain('127.77.0.1');
    expect(commanded).not.toContain('127.77.0.8');
    expect(commanded).not.toContain('127.77.1.3');
  });

  it('lists a node that hangs or closes as unreachable, within its timeout, without holding the run', () => {
    expect(cn(7)).toMatchObject({ state: 'unreachable', problem: 'no answer within 1 s' });
    expect(cn(9)).toMatchObject({ state: 'unreachable', problem: expect.stringMatching(/^ssh: /) });
    // 16 nodes, 3 at a time, one of them hanging for its 1 s timeout.
    expect(elapsed).toBeLessThan(5_000);
  });

  it('keeps at most `parallel` sessions open at once', () => {
    expect(maxOpen).toBeGreaterThanOrEqual(2);
    expect(maxOpen).toBeLessThanOrEqual(3);
  });

  it('refuses a record with hostile text, and never prints it', async () => {
    expect(cn(10)).toMatchObject({ state: 'drift', booted: null, problem: expect.stringMatching(/^the boot record /) });
    expect(run.stdout).not.toContain('\u001b');
    const table = await cliWith(new AbortController().signal, 'fleet', 'status');
    expect(table.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  });

  it('exits 1 when a node drifts, counts every state, and prints a table', async () => {
    expect(run.exitCode).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({
      schemaVersion: 1,
      generation: 3,
      counts: { current: 2, pendingReboot: 1, drift: 6, unreachable: 7 },
    });
    const table = await cliWith(new AbortController().signal, 'fleet', 'status');
    expect(table.exitCode).toBe(1);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^host +group +channel +should boot +booted +verified +up since +state$/);
    expect(lines.find((line) => line.startsWith('cn001 '))).toMatch(
      new RegExp(`cn001 +compute +production +compute@${c2} +compute@${c2} \\(gen 3\\) +yes +\\S+Z +current$`),
    );
    expect(lines.find((line) => line.startsWith('cn002 '))).toMatch(/PENDING REBOOT$/);
    expect(lines.find((line) => line.startsWith('cn004 '))).toMatch(/ NO .*DRIFT: its root was not verified$/);
    expect(lines.at(-1)).toBe('16 node(s), generation 3: 2 current, 1 pending reboot, 6 drift, 7 unreachable');
  });

  it('--group reads only that group; no drift exits 0', async () => {
    const login = await cliWith(new AbortController().signal, '--json', 'fleet', 'status', '--group', 'login');
    expect(login.exitCode).toBe(0);
    expect(Object.keys(JSON.parse(login.stdout).nodes)).toEqual([mac(1, 0x20), mac(2, 0x20), mac(3, 0x20)]);
    const unknown = await cliWith(new AbortController().signal, 'fleet', 'status', '--group', 'nope');
    expect(unknown.exitCode).toBe(2);
  });

  it('saves the snapshot for the report, which shows it', async () => {
    await cliWith(new AbortController().signal, 'fleet', 'status');
    const { snapshot, problem } = await readFleetSnapshot(fleetSnapshotFile(site.store));
    expect(problem).toBeUndefined();
    expect(snapshot?.nodes[mac(2)]).toMatchObject({ state: 'pending reboot', pendingReboot: true });
    const data = await gatherReport((await loadSiteConfig(recipeRepo(site.repo), ['compute', 'tiny'])).site!);
    const group = data.groups.find((g) => g.name === 'compute')!;
    expect(group.members[0]!.fleet).toMatchObject({ booted: `compute@${c2}`, drift: false, problem: null });
    expect(group.members[3]!.fleet).toMatchObject({ drift: true, verified: false });
    expect(group.counts).toMatchObject({ drift: 6, pendingReboot: 1 });
    expect(renderReport(data, '')).toContain(`compute@${c2}`);
  });

  it('gives a rollout the same access to each member: its address and accepted keys, a session over them', async () => {
    const loaded = (await loadSiteConfig(recipeRepo(site.repo), ['compute', 'tiny'])).site!;
    const access = await fleetAccess(loaded);
    const group = (name: string) => loaded.nodeGroups.find((g) => g.name === name)!;
    const member = (name: string, index: number) => ({ group: group(name), ...group(name).members[index]! });
    const cn001 = await access.target(member('compute', 0));
    if ('problem' in cn001) throw new Error(cn001.problem);
    expect(cn001).toMatchObject({ address: address('cn001'), port: server.port, user: 'admin', timeoutMs: 1000 });
    expect(cn001.hostKeys).toEqual([expect.stringMatching(/^SHA256:/)]);
    // The fixture answers any other command `No such file`, exit status 1: the session was open.
    expect(await checkNode(cn001, [{ name: 'the node answers', run: 'true' }], new AbortController().signal)).toMatchObject({
      ok: false,
      check: 'the node answers',
      reason: 'exit status 1, expected 0',
    });
    const cn008 = await access.target(member('compute', 7));
    if ('problem' in cn008) throw new Error(cn008.problem);
    expect(await checkNode(cn008, [{ name: 'the node answers', run: 'true' }], new AbortController().signal)).toMatchObject({
      ok: false,
      reason: 'host key mismatch',
    });
    expect(await access.target(member('compute', 10))).toEqual({ problem: 'no managed host key in the secrets directory' });
    expect(await access.target(member('canary', 0))).toEqual({ problem: 'no address in pxeforge.yaml' });
  });
});

describe('fleet status settings and interruption', () => {
  it('refuses to run without an SSH key, naming the setting', async () => {
    const text = await readFile(path.join(site.repo, 'pxeforge.yaml'), 'utf8');
    try {
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), text.replace(' identityFile: secrets-outside/fleet_key,', ''));
      const result = await runCli(['--repo', site.repo, 'fleet', 'status'], site.repo);
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain('identityFile');
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), text.replace('parallel: 3', 'parallel: 0'));
      const bad = await runCli(['--repo', site.repo, 'fleet', 'status'], site.repo);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toMatch(/pxeforge\.yaml:\d+:\d+.*fleet\.parallel/);
    } finally {
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), text);
    }
  });

  it('Ctrl-C stops every SSH session at once', async () => {
    const text = await readFile(path.join(site.repo, 'pxeforge.yaml'), 'utf8');
    const saved = new Map(nodes);
    try {
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), text.replace('timeoutSeconds: 1', 'timeoutSeconds: 60'));
      for (const n of [1, 2, 3]) nodes.set(`127.77.0.${n}`, { ...nodes.get(`127.77.0.${n}`)!, answer: 'hang' });
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(new Error('SIGINT received')), 500);
      const result = await cliWith(controller.signal, 'fleet', 'status', '--group', 'compute');
      expect(result.exitCode).toBe(130);
      expect(Date.now() - started).toBeLessThan(5_000);
      await expect.poll(() => server.stats.open, { timeout: 2_000 }).toBe(0);
    } finally {
      for (const [key, value] of saved) nodes.set(key, value);
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), text);
    }
  });
});
