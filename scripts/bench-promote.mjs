// Promotion benchmarks (run through scripts/bench-promote): switch and rollback time for a
// 50 MB and a 2 GB image, render + switch for 10,000 nodes in 50 groups, and verify on that
// tree. Everything runs in a temporary directory under /var/tmp, removed at the end.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import path from 'node:path';

import { promote, rollback } from '../dist/promote/promote.js';
import { verifyTree } from '../dist/promote/verify.js';
import { treePaths } from '../dist/promote/tree.js';
import { recipeRepo } from '../dist/recipe/repo.js';
import { loadSiteConfig } from '../dist/site/site-config.js';
import { benchManifest } from './bench-records.mjs';

const work = await mkdtemp('/var/tmp/pxeforge-bench-promote-');
const ms = (start) => Math.round(performance.now() - start);
const lines = [];
const say = (line) => {
  lines.push(line);
  console.log(line);
};

async function sha256(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk);
  return hash.digest('hex');
}

/** A store version whose rootfs-sized initrd is `bytes` long (real blocks, written with dd). */
async function makeVersion(store, name, version, bytes) {
  const dir = path.join(store, 'images', name, version);
  await mkdir(dir, { recursive: true });
  const artifacts = {};
  for (const [file, size] of [
    ['vmlinuz', 8 << 20],
    ['initrd.img', bytes],
  ]) {
    execFileSync('dd', [
      'if=/dev/urandom',
      `of=${path.join(dir, file)}`,
      'bs=4M',
      `count=${Math.ceil(size / (4 << 20))}`,
      'iflag=fullblock',
      'status=none',
    ]);
    artifacts[file] = { sha256: await sha256(path.join(dir, file)), size: Math.ceil(size / (4 << 20)) * (4 << 20) };
  }
  const manifest = benchManifest({ name, version, artifacts });
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

async function site(dir, yaml) {
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  await writeFile(path.join(dir, 'recipes/img.yaml'), 'name: img\n');
  await writeFile(path.join(dir, 'pxeforge.yaml'), yaml);
  const started = performance.now();
  const { site: loaded, problems } = await loadSiteConfig(recipeRepo(dir), ['img']);
  if (loaded === undefined) throw new Error(JSON.stringify(problems));
  return { site: loaded, loadMs: ms(started) };
}

const tools = (loaded) => ({
  site: loaded,
  paths: treePaths(loaded.tftpRoot),
  emit: () => {},
  signal: new AbortController().signal,
  waitMs: 0,
});
const afterLock = (timings) =>
  Math.round(
    Object.entries(timings)
      .filter(([step]) => step !== 'lock' && step !== 'decide')
      .reduce((sum, [, t]) => sum + t, 0),
  );

try {
  say(`pxeforge promotion benchmarks, ${new Date().toISOString()}, ${execFileSync('nproc').toString().trim()} cores`);
  // 1. Switch and rollback for a 50 MB and a 2 GB image (same filesystem: hard links).
  for (const [label, bytes] of [
    ['50 MB', 50 << 20],
    ['2 GB', 2 * 1024 ** 3],
  ]) {
    const dir = path.join(work, label.replace(' ', ''));
    const { site: loaded } = await site(
      dir,
      'store: store\ntftpRoot: tftp\nchannels: { staging: {} }\nnodeGroups:\n  g: { image: img, channel: staging, macs: ["52:54:00:00:00:01"] }\n',
    );
    await makeVersion(loaded.store, 'img', 'v1', bytes);
    await makeVersion(loaded.store, 'img', 'v2', bytes);
    await promote(tools(loaded), { image: 'img@v1', channel: 'staging' });
    let started = performance.now();
    const promoted = await promote(tools(loaded), { image: 'img@v2', channel: 'staging' });
    const promoteMs = ms(started);
    started = performance.now();
    const rolled = await rollback(tools(loaded), { image: 'img', channel: 'staging' });
    const rollbackMs = ms(started);
    say(
      `${label.padEnd(6)} image: promote ${promoteMs} ms in all (sha256 of the store's artifacts included; placed by ${promoted.placed}), ` +
        `render+write+switch+history ${afterLock(promoted.timings)} ms; rollback ${rollbackMs} ms in all, switch part ${afterLock(rolled.timings)} ms`,
    );
    await rm(dir, { recursive: true, force: true });
  }

  // 2. 10,000 nodes in 50 groups (bios and uefi alternating), render + switch, then rollback and verify.
  const dir = path.join(work, 'big');
  const nodes = [];
  for (let i = 0; i < 10_000; i += 1)
    nodes.push(
      `  n${String(i).padStart(5, '0')}: "52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}"`,
    );
  const groups = [];
  for (let g = 0; g < 50; g += 1)
    groups.push(
      `  g${g}: { image: img, channel: ${g % 2 ? 'production' : 'staging'}, hosts: ["n[${String(g * 200).padStart(5, '0')}-${String(g * 200 + 199).padStart(5, '0')}]"], firmware: ${g % 3 === 0 ? 'uefi' : 'bios'} }`,
    );
  const yaml = `store: store\ntftpRoot: tftp\nchannels: { staging: {}, production: {} }\nnodes:\n${nodes.join('\n')}\nnodeGroups:\n${groups.join('\n')}\n`;
  const { site: loaded, loadMs } = await site(dir, yaml);
  await makeVersion(loaded.store, 'img', 'v1', 50 << 20);
  await makeVersion(loaded.store, 'img', 'v2', 50 << 20);
  say(`10,000 nodes / 50 groups: pxeforge.yaml read and checked in ${loadMs} ms`);
  await promote(tools(loaded), { image: 'img@v1', channel: 'staging' });
  let started = performance.now();
  let result = await promote(tools(loaded), { image: 'img@v1', channel: 'production' });
  say(`  first promotion that creates 10,000 entry links: ${ms(started)} ms in all (${JSON.stringify(result.timings)})`);
  started = performance.now();
  result = await promote(tools(loaded), { image: 'img@v2', channel: 'production' });
  say(
    `  promote (render + write + switch): ${ms(started)} ms in all, ${afterLock(result.timings)} ms after the digest check (${JSON.stringify(result.timings)})`,
  );
  started = performance.now();
  result = await rollback(tools(loaded), { image: 'img', channel: 'production' });
  say(`  rollback: ${ms(started)} ms in all (${JSON.stringify(result.timings)})`);
  started = performance.now();
  const report = await verifyTree(treePaths(loaded.tftpRoot));
  say(`  verify: ${ms(started)} ms, ${report.ok ? 'OK' : 'FAILED'} — ${JSON.stringify(report.counts)}`);
  if (!report.ok) throw new Error(report.problems.slice(0, 5).join('\n'));
} finally {
  await rm(work, { recursive: true, force: true });
}
