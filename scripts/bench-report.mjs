// Report benchmark (run through scripts/bench-report): a site with 10,000 nodes in 50 groups,
// two images of 20 versions each (400 packages, boot phase timings), a tree promoted for real,
// and a history of 500 lines; then `pxeforge report` is written three times and timed.
// Everything runs in a temporary directory under /var/tmp, removed at the end.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { access, appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { promote } from '../dist/promote/promote.js';
import { treePaths } from '../dist/promote/tree.js';
import { recipeRepo } from '../dist/recipe/repo.js';
import { writeReport } from '../dist/report/report.js';
import { loadSiteConfig } from '../dist/site/site-config.js';

const work = await mkdtemp('/var/tmp/pxeforge-bench-report-');
const images = ['compute', 'gpu'];
const versionsPerImage = 20;
const historyLines = 500;

const versionName = (i) =>
  `202611${String(1 + Math.floor(i / 2)).padStart(2, '0')}T${String(10 + (i % 2)).padStart(2, '0')}0000Z-${createHash('sha256').update(String(i)).digest('hex').slice(0, 8)}`;

/** A store version with small real artifacts and a manifest and test report of realistic size. */
async function makeVersion(store, name, index) {
  const version = versionName(index);
  const dir = path.join(store, 'images', name, version);
  await mkdir(dir, { recursive: true });
  const artifacts = {};
  for (const file of ['vmlinuz', 'initrd.img']) {
    const data = Buffer.from(`${name} ${version} ${file}`);
    await writeFile(path.join(dir, file), data);
    artifacts[file] = { sha256: createHash('sha256').update(data).digest('hex'), size: data.length };
  }
  const packages = Array.from({ length: 400 }, (_, p) => ({
    name: `package-${p}`,
    version: `1.${p % 7 === 0 ? index : 0}-1`,
    arch: 'amd64',
  }));
  const manifest = {
    schemaVersion: 1,
    name,
    version,
    createdAt: new Date(Date.UTC(2026, 10, 1, index)).toISOString(),
    format: 'initramfs',
    artifacts,
    inputs: { [`recipes/${name}.yaml`]: String(index % 3) },
    packages,
    git: { commit: 'c'.repeat(40), dirty: false },
    kernel: { package: 'linux-image-amd64', version: `6.1.0-${20 + Math.floor(index / 5)}-amd64`, cmdline: 'console=ttyS0,115200' },
  };
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const phases = {
    kernel: 900,
    initramfs: 2600,
    'root mounted': 7000 + index * 40,
    'multi-user': 12000 + index * 60,
    'ssh up': 13500 + index * 70,
  };
  await writeFile(
    path.join(dir, 'test-report.json'),
    JSON.stringify({
      schemaVersion: 1,
      name,
      version,
      via: 'direct',
      passed: true,
      startedAt: manifest.createdAt,
      durationMs: 30000,
      artifacts,
      phases,
      checks: [{ name: 'sshd', passed: true }],
    }),
  );
  return version;
}

/** How long headless Chromium (Debian's, when installed) takes to load the page and draw its charts. */
async function timeInBrowser(file) {
  const executablePath = '/usr/bin/chromium';
  if (
    !(await access(executablePath).then(
      () => true,
      () => false,
    ))
  )
    return console.log('  (no /usr/bin/chromium: page load not timed)');
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(path.join(work, 'profile'), {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await context.newPage();
    const started = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    console.log(`  headless Chromium: page loaded and charts drawn in ${Math.round(performance.now() - started)} ms`);
  } finally {
    await context.close();
  }
}

try {
  const dir = path.join(work, 'site');
  const nodes = [];
  for (let i = 0; i < 10_000; i += 1)
    nodes.push(
      `  n${String(i).padStart(5, '0')}: "52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}"`,
    );
  const groups = [];
  for (let g = 0; g < 50; g += 1)
    groups.push(
      `  g${g}: { image: ${images[g % 2]}, channel: ${g % 5 === 0 ? 'staging' : 'production'}, hosts: ["n[${String(g * 200).padStart(5, '0')}-${String(g * 200 + 199).padStart(5, '0')}]"] }`,
    );
  await mkdir(path.join(dir, 'recipes'), { recursive: true });
  for (const name of images) await writeFile(path.join(dir, 'recipes', `${name}.yaml`), `name: ${name}\n`);
  await writeFile(
    path.join(dir, 'pxeforge.yaml'),
    `store: store\ntftpRoot: tftp\nchannels: { staging: {}, production: {} }\nnodes:\n${nodes.join('\n')}\nnodeGroups:\n${groups.join('\n')}\n`,
  );
  const { site, problems } = await loadSiteConfig(recipeRepo(dir), images);
  if (site === undefined) throw new Error(JSON.stringify(problems));
  const tools = { site, paths: treePaths(site.tftpRoot), emit: () => {}, signal: new AbortController().signal, waitMs: 0 };
  for (const name of images) {
    for (let i = 0; i < versionsPerImage; i += 1) await makeVersion(site.store, name, i);
    for (const channel of ['staging', 'production'])
      await promote(tools, { image: `${name}@${versionName(versionsPerImage - 1)}`, channel, reason: 'bench' });
  }
  // The rest of the history: copies of a real line with other versions, users, reasons and marks.
  const history = tools.paths.history;
  const real = (await readFile(history, 'utf8')).trim().split('\n');
  const template = JSON.parse(real.at(-1));
  const extra = [];
  for (let i = real.length; i < historyLines; i += 1) {
    const action = i % 17 === 0 ? 'rollback' : i % 41 === 0 ? 'refresh' : 'promote';
    extra.push(
      JSON.stringify({
        ...template,
        generation: i + 1,
        at: new Date(Date.UTC(2026, 0, 1) + i * 3_600_000).toISOString(),
        user: `admin${i % 4}`,
        action,
        channel: action === 'refresh' ? null : template.channel,
        image: action === 'refresh' ? null : images[i % 2],
        from: versionName(i % versionsPerImage),
        to: versionName((i + 1) % versionsPerImage),
        reason: `change ${i}: ticket HPC-${1000 + i}`,
        forced: i % 23 === 0,
        recovered: i % 97 === 0 ? 'took over the lock of a pxeforge that had died' : undefined,
      }),
    );
  }
  await appendFile(history, `${extra.join('\n')}\n`);
  const out = path.join(work, 'report');
  console.log(
    `pxeforge report benchmark, ${new Date().toISOString()}, ${execFileSync('nproc').toString().trim()} cores: 10,000 nodes in 50 groups, ${historyLines} history lines, ${images.length} images x ${versionsPerImage} versions`,
  );
  for (let run = 1; run <= 3; run += 1) {
    const result = await writeReport(site, out);
    console.log(
      `  run ${run}: wrote ${(result.bytes / 1024 / 1024).toFixed(2)} MiB (${result.bytes} bytes) in ${result.ms} ms (gather + render + atomic write)`,
    );
  }
  const started = performance.now();
  const said = execFileSync(process.execPath, ['bin/pxeforge.js', '--repo', dir, 'report', '--out', out]).toString().trim();
  console.log(
    `  the whole command (node start, pxeforge.yaml with 10,000 nodes read and checked, report written): ${Math.round(performance.now() - started)} ms — ${said}`,
  );
  await timeInBrowser(path.join(out, 'index.html'));
} finally {
  await rm(work, { recursive: true, force: true });
}
