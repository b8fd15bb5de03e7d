// Node files in the tree (run through scripts/bench-node-files): 10,000 nodes in one node group,
// host ranges with pattern MACs and addresses, five node files each (three of them templates,
// one a site secret), a tiny image version placed without building. Then `refresh` when
// nothing changed (no archive may be written) and after a change that reaches every node.
// Everything runs in a temporary directory under /var/tmp, removed at the end.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { promote, refresh } from '../dist/promote/promote.js';
import { treePaths } from '../dist/promote/tree.js';
import { verifyTree } from '../dist/promote/verify.js';
import { recipeRepo } from '../dist/recipe/repo.js';
import { loadSiteConfig } from '../dist/site/site-config.js';
import { benchManifest } from './bench-records.mjs';

const racks = 40;
const perRack = 250; // 40 × 250 = 10,000 nodes
const targets = { unchanged: 10_000, changed: 30_000 };

const work = await mkdtemp('/var/tmp/pxeforge-bench-node-files-');
const ms = (start) => Math.round(performance.now() - start);
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hex2 = (n) => n.toString(16).padStart(2, '0');

/** A store version with tiny artifacts: the tree never looks inside them. */
async function makeVersion(store, name, version) {
  const dir = path.join(store, 'images', name, version);
  await mkdir(dir, { recursive: true });
  const artifacts = {};
  for (const file of ['vmlinuz', 'initrd.img']) {
    const data = Buffer.from(`${file} of ${name}@${version}\n`);
    await writeFile(path.join(dir, file), data);
    artifacts[file] = { sha256: sha256(data), size: data.length };
  }
  // The accounts node files' owners name.
  const accounts = { users: { root: 0, munge: 105 }, groups: { root: 0, munge: 107 } };
  const manifest = benchManifest({ name, version, artifacts, accounts });
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

function siteYaml(domain) {
  const nodes = [];
  for (let rack = 1; rack <= racks; rack += 1) {
    nodes.push(
      `  "r${String(rack).padStart(2, '0')}n[001-${perRack}]":`,
      `    mac: "52:54:00:01:${hex2(rack)}:{n:02x}"`,
      `    ip: "10.${rack}.0.{n}/16"`,
      `    ib0: "10.${100 + rack}.0.{n}/16"`,
      `    rack: "r${String(rack).padStart(2, '0')}"`,
    );
  }
  return [
    'store: store',
    'tftpRoot: tftp',
    'secrets: secrets',
    'channels: { staging: {} }',
    `vars: { domain: ${domain} }`,
    'nodes:',
    ...nodes,
    'nodeGroups:',
    '  compute:',
    '    image: img',
    '    channel: staging',
    `    hosts: ["r[01-${racks}]n[001-${perRack}]"]`,
    '    nodeFiles: [base]',
    '    secrets:',
    '      - { name: munge.key, path: /etc/munge/munge.key, owner: munge, group: munge, mode: "0400" }',
    '',
  ].join('\n');
}

async function load(dir) {
  const started = performance.now();
  const { site, problems } = await loadSiteConfig(recipeRepo(dir), ['img']);
  if (site === undefined) throw new Error(JSON.stringify(problems, null, 1));
  return { site, loadMs: ms(started) };
}

const tools = (site) => ({ site, paths: treePaths(site.tftpRoot), emit: () => {}, signal: new AbortController().signal, waitMs: 0 });
const archivesOnDisk = async (site) => (await readdir(treePaths(site.tftpRoot).nodes)).filter((name) => name.endsWith('.cpio')).length;

try {
  console.log(`pxeforge node files benchmark, ${new Date().toISOString()}, ${execFileSync('nproc').toString().trim()} cores`);
  const dir = path.join(work, 'repo');
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  await writeFile(path.join(dir, 'recipes/img.yaml'), 'name: img\n');
  const files = {
    'etc/hostname.liquid': '{{ host }}\n',
    'etc/hosts.liquid': '127.0.0.1 localhost\n{{ ip }} {{ host }}.{{ domain }} {{ host }}\n',
    'etc/network/interfaces.d/ib0.liquid': 'auto ib0\niface ib0 inet static\n    address {{ ib0 }}\n# rack {{ rack }}\n',
    'etc/motd': 'A node of the bench cluster.\n',
  };
  for (const [file, text] of Object.entries(files)) {
    await mkdir(path.join(dir, 'nodefiles/base', path.dirname(file)), { recursive: true });
    await writeFile(path.join(dir, 'nodefiles/base', file), text);
  }
  await mkdir(path.join(dir, 'secrets'), { mode: 0o700 });
  await chmod(path.join(dir, 'secrets'), 0o700);
  await writeFile(path.join(dir, 'secrets/munge.key'), Buffer.alloc(1024, 7), { mode: 0o600 });
  await writeFile(path.join(dir, 'pxeforge.yaml'), siteYaml('cluster.test'));
  let { site, loadMs } = await load(dir);
  console.log(`${site.nodeGroups[0].members.length} nodes, 5 node files each: pxeforge.yaml read and checked in ${loadMs} ms`);
  await makeVersion(site.store, 'img', 'v1');

  let started = performance.now();
  let result = await promote(tools(site), { image: 'img@v1', channel: 'staging' });
  console.log(`first promote: ${ms(started)} ms, ${result.nodeArchives.written} archives written (${JSON.stringify(result.timings)})`);

  started = performance.now();
  result = await refresh(tools(site), 'bench: nothing changed');
  const unchangedMs = ms(started);
  console.log(
    `refresh, nothing changed: ${unchangedMs} ms (target ≤ ${targets.unchanged} ms), ${result.nodeArchives.written} archives written, ${result.nodeArchives.kept} already there (${JSON.stringify(result.timings)})`,
  );

  await writeFile(path.join(dir, 'pxeforge.yaml'), siteYaml('cluster2.test'));
  ({ site } = await load(dir));
  started = performance.now();
  result = await refresh(tools(site), 'bench: every node changed');
  const changedMs = ms(started);
  console.log(
    `refresh, every node changed: ${changedMs} ms (target ≤ ${targets.changed} ms), ${result.nodeArchives.written} archives written (${JSON.stringify(result.timings)})`,
  );
  console.log(`archives in the tree: ${await archivesOnDisk(site)}`);
  started = performance.now();
  const report = await verifyTree(treePaths(site.tftpRoot));
  console.log(`verify: ${ms(started)} ms, ${report.ok ? 'OK' : 'FAILED'} — ${JSON.stringify(report.counts)}`);
  if (!report.ok) throw new Error(report.problems.slice(0, 5).join('\n'));
  const met = unchangedMs <= targets.unchanged && changedMs <= targets.changed;
  console.log(met ? 'both targets met' : 'TARGET MISSED');
  if (!met) process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
