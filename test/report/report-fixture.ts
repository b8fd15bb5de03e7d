import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { runCli } from '../helpers/cli.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';

/**
 * A site with a realistic past for the report: two images with several versions each
 * (packages, kernels, boot phase timings), promotions to staging and production, a forced
 * promotion of a version whose test failed and a rollback of it. With `hostile`, a reason
 * and a user name that are HTML and script.
 */
export const computeVersions = [
  '20261102T091500Z-3fa9c1d2',
  '20261109T101200Z-8b71e0aa',
  '20261116T083000Z-c0ffee12',
  '20261123T141500Z-5d4e3f21',
];
export const tinyVersions = ['20261104T120000Z-0a1b2c3d', '20261118T120000Z-77e8d9f0'];
export const hostileReason = '</script><img src=x onerror=alert(1)>';
export const hostileUser = '<b onmouseover="alert(2)">mallory</b>';

const basePackages = ['bash', 'coreutils', 'systemd', 'openssh-server', 'chrony', 'libc6', 'dracut', 'iproute2', 'rdma-core', 'munge'];

export async function makeReportSite(options: { hostile?: boolean } = {}): Promise<TreeSite> {
  const site = await makeTreeSite();
  const cli = async (...argv: string[]) => {
    const run = await runCli(argv, site.repo);
    if (run.exitCode !== 0) throw new Error(`pxeforge ${argv.join(' ')}: ${run.stderr}`);
  };
  for (const [i, version] of computeVersions.entries()) {
    await makeVersion(site.store, 'compute', version, { tested: i === 2 ? 'failed' : 'passed', size: 3000 + i * 900 });
    await enrich(site.store, 'compute', version, i);
  }
  for (const [i, version] of tinyVersions.entries()) {
    await makeVersion(site.store, 'tiny', version, { tested: 'passed', size: 1500 + i * 200 });
    await enrich(site.store, 'tiny', version, i);
  }
  const [c1, c2, c3, c4] = computeVersions;
  const [t1, t2] = tinyVersions;
  await cli('promote', `tiny@${t1}`, '--channel', 'staging', '--reason', 'first canary');
  await cli('promote', `compute@${c1}`, '--channel', 'production', '--reason', 'initial rollout');
  await cli('promote', `compute@${c2}`, '--channel', 'staging', '--reason', 'openssl update');
  await cli('promote', `compute@${c2}`, '--channel', 'production', '--reason', 'CVE-2026-1234');
  await cli('promote', `tiny@${t2}`, '--channel', 'staging');
  await cli(
    'promote',
    `compute@${c3}`,
    '--channel',
    'production',
    '--force',
    '--reason',
    options.hostile ? hostileReason : 'hotfix for the IB driver, test node down',
  );
  await cli('rollback', 'compute', '--channel', 'production', '--reason', 'nodes hang at mount of /scratch');
  await cli('promote', `compute@${c4}`, '--channel', 'staging', '--reason', 'kernel 6.1.0-28');
  if (options.hostile) {
    const history = path.join(site.tftp, 'pxeforge', 'history.jsonl');
    const lines = (await readFile(history, 'utf8')).trim().split('\n');
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    await appendFile(
      history,
      `${JSON.stringify({ ...last, user: hostileUser, reason: 'a line written by hand', recovered: 'took over the lock of pid 4242 on admin1, which had died' })}\nnot json at all\n`,
    );
  }
  return site;
}

/** Adds what a real build and boot test record: packages, kernel, inputs, phase timings, checks. */
async function enrich(store: string, name: string, version: string, index: number): Promise<void> {
  const dir = path.join(store, 'images', name, version);
  const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const packages = basePackages.map((p) => ({
    name: p,
    version: p === 'openssh-server' && index > 0 ? '1:9.2p1-2+deb12u4' : '1.0-1',
    arch: 'amd64',
  }));
  if (index >= 1) packages.push({ name: 'slurmd', version: `22.05.${index}-1`, arch: 'amd64' });
  if (name === 'tiny') packages.splice(6);
  const kernel = manifest.kernel as Record<string, string>;
  await writeFile(
    path.join(dir, 'manifest.json'),
    JSON.stringify({
      ...manifest,
      createdAt: `${version.slice(0, 4)}-${version.slice(4, 6)}-${version.slice(6, 8)}T${version.slice(9, 11)}:${version.slice(11, 13)}:00Z`,
      packages,
      kernel: { ...kernel, version: index >= 3 ? '6.1.0-28-amd64' : '6.1.0-27-amd64' },
      inputs: { [`recipes/${name}.yaml`]: String(index), 'overlays/common/etc/motd': index >= 2 ? 'b' : 'a' },
    }),
  );
  const reportFile = path.join(dir, 'test-report.json');
  const report = JSON.parse(await readFile(reportFile, 'utf8')) as Record<string, unknown>;
  const slow = index * 700;
  const phases = { kernel: 900, initramfs: 2600, 'root mounted': 7200 + slow, 'multi-user': 12_400 + slow, 'ssh up': 13_900 + slow };
  const checks = ['sshd is active', 'root is overlay', 'chrony is active'].map((check, i) => ({
    name: check,
    builtin: i < 2,
    command: 'true',
    passed: report.passed === true || i > 0,
    exitCode: 0,
    output: '',
    durationMs: 120,
  }));
  await writeFile(
    reportFile,
    JSON.stringify({
      ...report,
      phases,
      checks,
      startedAt: `${version.slice(0, 4)}-${version.slice(4, 6)}-${version.slice(6, 8)}T15:00:00Z`,
    }),
  );
}
