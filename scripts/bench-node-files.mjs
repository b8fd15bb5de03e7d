#!/usr/bin/env node
// computeNodeFiles for a site of 10,000 nodes with five node files each (three templates, one
// plain file, one secret) and managed SSH host keys: the first run makes the keys, the second
// reads them. Runs dist/ (npm run build first); everything lives in a temporary directory.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { computeNodeFiles } from '../dist/nodes/compute.js';
import { recipeRepo } from '../dist/recipe/repo.js';
import { loadSiteTree } from '../dist/site/site-config.js';

const count = Number(process.argv[2] ?? 10_000);
const dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-bench-nodes-'));
try {
  const write = async (relative, text, mode) => {
    const file = path.join(dir, relative);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, text, { mode });
  };
  const hex = (n) => n.toString(16).padStart(4, '0');
  const lines = ['vars: { domain: cluster.test }', 'nodes:'];
  for (let n = 1; n <= count; n += 1) {
    const mac = `52:54:00:00:${hex(n).slice(0, 2)}:${hex(n).slice(2)}`;
    lines.push(
      `  cn${String(n).padStart(5, '0')}: { mac: "${mac}", ip: "10.${n >> 8}.${n & 255}.1/16", ib0: "10.200.${n >> 8}.${n & 255}/16" }`,
    );
  }
  lines.push(
    'nodeGroups:',
    '  compute:',
    '    image: base',
    '    channel: staging',
    `    hosts: ["cn[00001-${String(count).padStart(5, '0')}]"]`,
    '    hostKeys: managed',
    '    nodeFiles: [base]',
    '    secrets: [{ name: munge.key, path: /etc/munge/munge.key, owner: munge, group: munge }]',
  );
  await write('pxeforge.yaml', `${lines.join('\n')}\n`);
  await write('nodefiles/base/etc/hostname.liquid', '{{ host }}\n');
  await write(
    'nodefiles/base/etc/hosts.liquid',
    '{% for n in nodes %}{{ n.ip | split: "/" | first }} {{ n.host }}.{{ domain }} {{ n.host }}\n{% endfor %}',
  );
  await write('nodefiles/base/etc/systemd/network/20-ib0.network.liquid', '[Match]\nName=ib0\n\n[Network]\nAddress={{ ib0 }}\n');
  await write('nodefiles/base/etc/motd', 'compute node\n');
  await mkdir(path.join(dir, 'secrets'), { mode: 0o700 });
  await chmod(path.join(dir, 'secrets'), 0o700);
  await write('secrets/munge.key', 'x'.repeat(1024), 0o600);
  await writeFile(path.join(dir, 'pxeforge.yaml'), `secrets: secrets\n${lines.join('\n')}\n`);

  let start = performance.now();
  const { site, problems } = await loadSiteTree(recipeRepo(dir), ['base']);
  if (site === undefined) throw new Error(JSON.stringify(problems.slice(0, 3)));
  const load = performance.now() - start;
  const accounts = { users: { root: 0, munge: 105 }, groups: { root: 0, munge: 107 } };
  const runs = [];
  for (const label of ['first (makes host keys)', 'again (keys exist)', 'again']) {
    start = performance.now();
    const nodes = await computeNodeFiles(site, { served: () => ({ accounts }), generateHostKeys: true });
    runs.push(
      `${label}: ${((performance.now() - start) / 1000).toFixed(2)} s, ${nodes.length} nodes, ${nodes.reduce((sum, node) => sum + node.files.length, 0)} entries`,
    );
  }
  console.log(`load pxeforge.yaml (${count} nodes): ${(load / 1000).toFixed(2)} s`);
  for (const run of runs) console.log(`computeNodeFiles ${run}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
