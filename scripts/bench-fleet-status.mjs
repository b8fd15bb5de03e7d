#!/usr/bin/env node
// `pxeforge fleet status` against simulated nodes: an SSH server on loopback (a process of its
// own, scripts/fleet-ssh-server.mjs) answers as every node at 127.x.y.z with the node's own
// managed ed25519 host key, and the real CLI (bin/pxeforge.js, so dist/: npm run build first)
// reads every boot record. For each fleet size (default 1,000 and 10,000) it prints the total
// time, nodes/s and the client's peak RSS (VmHWM, sampled from /proc), side by side.
//
//   node scripts/bench-fleet-status.mjs [sizes, e.g. 1000,10000] [parallel]
//
// The host keys are made once into $TMPDIR/pxeforge-bench-fleet-keys and reused.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { newEd25519KeyPair } from '../dist/nodes/host-keys.js';

const project = fileURLToPath(new URL('..', import.meta.url));
const sizes = (process.argv[2] ?? '1000,10000').split(',').map(Number);
const parallel = Number(process.argv[3] ?? 64);
const largest = Math.max(...sizes);
const host = (n) => `cn${String(n).padStart(5, '0')}`;
const address = (n) => `127.${1 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
const mac = (n) =>
  `52:54:00:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;

// Managed host keys, made once.
const keysDir = path.join(tmpdir(), 'pxeforge-bench-fleet-keys');
const keyFile = (n) => path.join(keysDir, 'host-keys', host(n), 'ssh_host_ed25519_key');
let made = 0;
const keysStarted = Date.now();
for (let n = 1; n <= largest; n += 1) {
  if (existsSync(`${keyFile(n)}.pub`)) continue;
  await mkdir(path.dirname(keyFile(n)), { recursive: true, mode: 0o700 });
  const pair = newEd25519KeyPair(host(n));
  await writeFile(keyFile(n), pair.private, { mode: 0o600 });
  await writeFile(`${keyFile(n)}.pub`, `${pair.public.trim()}\n`);
  made += 1;
}
if (made > 0) console.log(`made ${made} host keys in ${((Date.now() - keysStarted) / 1000).toFixed(1)} s (kept in ${keysDir})`);

const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-bench-fleet-'));
const fleetKey = newEd25519KeyPair('fleet');
const version = '20261125T120000Z-0badcafe';
const record = (n) =>
  JSON.stringify({
    schemaVersion: 1,
    image: 'compute',
    version,
    generation: 1,
    group: 'compute',
    channel: 'production',
    root: { sha256: 'c'.repeat(64), verified: true },
    nodeFiles: null,
    kernel: '6.1.0-28-amd64',
    bootedAt: '2026-11-26T07:00:00Z',
    bootId: `0f6d2c1e-0000-4000-8000-${String(n).padStart(12, '0')}`,
  });

const config = path.join(dir, 'server.json');
await writeFile(
  config,
  JSON.stringify({
    authorizedKey: fleetKey.public,
    nodes: Array.from({ length: largest }, (_, i) => ({
      address: address(i + 1),
      hostKeyFile: keyFile(i + 1),
      answer: { text: record(i + 1) },
    })),
  }),
);
const server = spawn(process.execPath, [path.join(project, 'scripts/fleet-ssh-server.mjs'), config], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const port = await new Promise((resolve, reject) => {
  server.stdout.once('data', (chunk) => resolve(JSON.parse(chunk.toString()).port));
  server.once('exit', (code) => reject(new Error(`the fixture server exited with ${code}`)));
});

/** A site of `count` nodes in one managed group, and a tree whose generation 1 serves `version` to it. */
async function makeSite(count) {
  const repo = path.join(dir, `site-${count}`);
  await mkdir(path.join(repo, 'recipes'), { recursive: true });
  await writeFile(path.join(repo, 'recipes/compute.yaml'), 'name: compute\n');
  await writeFile(path.join(repo, 'fleet_key'), fleetKey.private, { mode: 0o600 });
  const lines = ['store: store', 'tftpRoot: tftp', `secrets: ${keysDir}`, 'nodes:'];
  for (let n = 1; n <= count; n += 1) lines.push(`  ${host(n)}: { mac: "${mac(n)}", ip: "${address(n)}/8" }`);
  lines.push(
    'nodeGroups:',
    `  compute: { image: compute, channel: production, hosts: ["cn[00001-${String(count).padStart(5, '0')}]"], hostKeys: managed }`,
    'fleet:',
    `  ssh: { identityFile: fleet_key, port: ${port} }`,
    `  parallel: ${parallel}`,
    '  timeoutSeconds: 30',
  );
  await writeFile(path.join(repo, 'pxeforge.yaml'), `${lines.join('\n')}\n`);
  const generation = path.join(repo, 'tftp/pxeforge/generations/1');
  await mkdir(generation, { recursive: true });
  const at = '2026-11-25T12:00:00Z';
  const change = { generation: 1, at, user: 'bench', host: 'bench', action: 'promote', channel: 'production', image: 'compute' };
  await writeFile(
    path.join(generation, 'state.json'),
    JSON.stringify({
      schemaVersion: 1,
      generation: 1,
      createdAt: at,
      channels: {
        production: {
          compute: {
            version,
            since: at,
            by: 'bench',
            previous: [],
            forced: false,
            testReport: null,
            testPassed: true,
            commit: null,
            dirty: false,
          },
        },
      },
      change: {
        ...change,
        from: null,
        to: version,
        reason: null,
        forced: false,
        allowDirty: false,
        commit: null,
        dirty: false,
        testReport: null,
      },
      groups: [{ name: 'compute', image: 'compute', channel: 'production', version, members: count, firmware: 'bios' }],
      files: {},
      entries: {},
    }),
  );
  await symlink('generations/1', path.join(repo, 'tftp/pxeforge/current'));
  return repo;
}

/** Runs the CLI (`fleet status`, or `status`: the same site loaded, no node read); samples its VmHWM until it exits. */
async function run(repo, verb = ['fleet', 'status']) {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [path.join(project, 'bin/pxeforge.js'), '--repo', repo, '--json', ...verb], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let peakKiB = 0;
  const sample = async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
  };
  const timer = setInterval(sample, 50);
  const code = await new Promise((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (verb[0] !== 'fleet') return { seconds, peakMiB: peakKiB / 1024 };
  const snapshot = JSON.parse(await readFile(path.join(repo, 'store/fleet/status.json'), 'utf8'));
  if (code !== 0) throw new Error(`fleet status exited with ${code}: ${stderr}`);
  return { seconds, peakMiB: peakKiB / 1024, counts: snapshot.counts };
}

try {
  const rows = [];
  for (const count of sizes) {
    const repo = await makeSite(count);
    const result = await run(repo);
    const base = await run(repo, ['status']);
    rows.push({ count, ...result, baseMiB: base.peakMiB });
    console.log(
      `fleet status ${String(count).padStart(6)} nodes (parallel ${parallel}): ${result.seconds.toFixed(1).padStart(6)} s, ${Math.round(
        count / result.seconds,
      )
        .toString()
        .padStart(
          5,
        )} nodes/s, client peak RSS ${result.peakMiB.toFixed(0)} MiB (\`pxeforge status\` on the same site: ${base.peakMiB.toFixed(0)} MiB); ${JSON.stringify(result.counts)}`,
    );
  }
  if (rows.length > 1) {
    const [small, big] = [rows[0], rows.at(-1)];
    console.log(
      `peak RSS ${small.count} → ${big.count} nodes: ${small.peakMiB.toFixed(0)} → ${big.peakMiB.toFixed(0)} MiB (×${(big.peakMiB / small.peakMiB).toFixed(2)} for ×${big.count / small.count} nodes); above loading the site: ${(small.peakMiB - small.baseMiB).toFixed(0)} → ${(big.peakMiB - big.baseMiB).toFixed(0)} MiB`,
    );
  }
} finally {
  server.stdin.end();
  await new Promise((resolve) => server.on('exit', resolve));
  await rm(dir, { recursive: true, force: true });
}
