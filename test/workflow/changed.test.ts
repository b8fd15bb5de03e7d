import { execFile } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { projectRoot, runCli } from '../helpers/cli.js';
import { summaryTable } from '../../src/cli/pipeline.js';

/**
 * This project's recipes and overlays in a git repository of their own: base, compute (extends
 * base), tiny, and their arm64 variants compute-arm64 and tiny-arm64 (extending compute and tiny).
 */
let dir: string;
let repo: string;
const git = (...args: string[]) =>
  promisify(execFile)('git', ['-c', 'user.name=t', '-c', 'user.email=t@pxeforge.invalid', ...args], { cwd: repo });
const cli = (...argv: string[]) => runCli(argv, repo);

async function changed(since = 'HEAD'): Promise<Record<string, string[]>> {
  const result = await cli('--json', 'changed', '--since', since);
  expect(result.exitCode, result.stderr).toBe(0);
  const changes = JSON.parse(result.stdout) as { affected: { name: string; reasons: string[] }[] };
  return Object.fromEntries(changes.affected.map((recipe) => [recipe.name, recipe.reasons]));
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxeforge-changed-'));
  repo = path.join(dir, 'repo');
  for (const part of ['recipes', 'overlays', 'pxeforge.yaml'])
    await cp(path.join(projectRoot, part), path.join(repo, part), { recursive: true, verbatimSymlinks: true });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-qm', 'recipes');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pxeforge changed', () => {
  it('names only the recipe whose overlay changed, with the file', async () => {
    await appendFile(path.join(repo, 'overlays/compute/etc/chrony/conf.d/pxeforge.conf'), 'maxdistance 16\n');
    await git('commit', '-qam', 'chrony');
    // compute, and its arm64 variant, which extends it.
    expect(await changed('HEAD~1')).toEqual({
      compute: ['overlays/compute/etc/chrony/conf.d/pxeforge.conf'],
      'compute-arm64': ['overlays/compute/etc/chrony/conf.d/pxeforge.conf'],
    });
    const text = await cli('changed', '--since', 'HEAD~1');
    expect(text.stdout).toBe(
      'compute: overlays/compute/etc/chrony/conf.d/pxeforge.conf\ncompute-arm64: overlays/compute/etc/chrony/conf.d/pxeforge.conf\n',
    );
    // The recipe file is the recipe's own, not its parent's.
    const json = JSON.parse((await cli('--json', 'changed', '--since', 'HEAD~1')).stdout) as { affected: { file: string }[] };
    expect(json.affected.map((recipe) => recipe.file)).toEqual(['recipes/compute.yaml', 'recipes/compute-arm64.yaml']);
  });

  it('follows extends parents, package sets, shared overlays, overlay metadata and hooks', async () => {
    await appendFile(path.join(repo, 'recipes/base.yaml'), '# a comment\n');
    expect(await changed()).toEqual({
      base: ['recipes/base.yaml'],
      compute: ['recipes/base.yaml'],
      'compute-arm64': ['recipes/base.yaml'],
    });
    await git('commit', '-qam', 'parent');
    await appendFile(path.join(repo, 'recipes/package-sets/node-base.yaml'), '# a comment\n');
    await appendFile(path.join(repo, 'recipes/hooks/compute-motd.sh'), '# a comment\n');
    expect(await changed()).toEqual({
      base: ['recipes/package-sets/node-base.yaml'],
      compute: ['recipes/hooks/compute-motd.sh', 'recipes/package-sets/node-base.yaml'],
      'compute-arm64': ['recipes/hooks/compute-motd.sh', 'recipes/package-sets/node-base.yaml'],
      tiny: ['recipes/package-sets/node-base.yaml'],
      'tiny-arm64': ['recipes/package-sets/node-base.yaml'],
    });
    await git('commit', '-qam', 'sets');
    await appendFile(path.join(repo, 'overlays/common.yaml'), '# a comment\n');
    expect(Object.keys(await changed())).toEqual(['base', 'compute', 'compute-arm64', 'tiny', 'tiny-arm64']);
  });

  it('sees untracked, deleted and renamed overlay files', async () => {
    await writeFile(path.join(repo, 'overlays/compute/etc/motd-extra'), 'new\n');
    expect(await changed()).toEqual({ compute: ['overlays/compute/etc/motd-extra'], 'compute-arm64': ['overlays/compute/etc/motd-extra'] });
    await rm(path.join(repo, 'overlays/compute/etc/motd-extra'));
    await git('rm', '-q', 'overlays/compute/etc/sysctl.d/90-hpc.conf');
    expect(await changed()).toEqual({
      compute: ['overlays/compute/etc/sysctl.d/90-hpc.conf'],
      'compute-arm64': ['overlays/compute/etc/sysctl.d/90-hpc.conf'],
    });
    await git('mv', 'overlays/compute/etc/security/limits.d/90-hpc.conf', 'overlays/common/etc/90-hpc.conf');
    const affected = await changed();
    expect(affected.compute).toEqual([
      'overlays/common/etc/90-hpc.conf',
      'overlays/compute/etc/security/limits.d/90-hpc.conf',
      'overlays/compute/etc/sysctl.d/90-hpc.conf',
    ]);
    expect(affected['compute-arm64']).toEqual(affected.compute);
    expect(affected.tiny).toEqual(['overlays/common/etc/90-hpc.conf']);
    expect(affected['tiny-arm64']).toEqual(['overlays/common/etc/90-hpc.conf']);
  });

  it('pxeforge.yaml: the mirror rebuilds everything, node groups nothing', async () => {
    const site = await readFile(path.join(repo, 'pxeforge.yaml'), 'utf8');
    await writeFile(path.join(repo, 'pxeforge.yaml'), site.replace('cn[001-004]', 'cn[001-003]'));
    expect(await changed()).toEqual({});
    const text = await cli('changed', '--since', 'HEAD');
    expect(text.stdout).toContain('no recipe is affected by the 1 file(s) changed since HEAD: pxeforge.yaml');
    expect(text.stdout).toContain('`pxeforge refresh`');
    await writeFile(path.join(repo, 'pxeforge.yaml'), site.replace('mirror: host', 'mirror: http://deb.example.org/debian'));
    expect(await changed()).toEqual({
      base: ['pxeforge.yaml (mirror)'],
      compute: ['pxeforge.yaml (mirror)'],
      'compute-arm64': ['pxeforge.yaml (mirror)'],
      tiny: ['pxeforge.yaml (mirror)'],
      'tiny-arm64': ['pxeforge.yaml (mirror)'],
    });
  });

  it('says when nothing changed, and refuses what is not a commit', async () => {
    expect((await cli('changed', '--since', 'HEAD')).stdout).toMatch(/^nothing changed since HEAD \([0-9a-f]{10}\)$/m);
    const bad = await cli('changed', '--since', 'no-such-branch');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('`no-such-branch` is not a commit of the recipe repository');
  });
});

describe('pxeforge pipeline (what can be checked without building)', () => {
  it('refuses a protected channel, and a run with both or neither recipes and --changed-since', async () => {
    let result = await cli('pipeline', 'recipes/tiny.yaml', '--promote-to', 'production');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('the pipeline promotes only to unprotected channels, and `production` is protected');
    result = await cli('pipeline');
    expect(result.exitCode).toBe(2);
    result = await cli('pipeline', 'recipes/tiny.yaml', '--changed-since', 'HEAD');
    expect(result.exitCode).toBe(2);
  });

  it('with --changed-since and nothing affected, builds nothing and succeeds', async () => {
    const result = await cli('pipeline', '--changed-since', 'HEAD', '--promote-to', 'staging');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^nothing changed since HEAD/);
  });

  it('summarises each recipe: version, build time, test, where it went, and why one failed', () => {
    expect(
      summaryTable([
        {
          recipe: 'compute',
          version: '20261125T120000Z-3fa9c1d2',
          buildMs: 117_000,
          test: { passed: true, durationMs: 62_000, failed: [] },
          promotedTo: 'staging',
          failure: null,
        },
        {
          recipe: 'tiny',
          version: '20261125T120100Z-aa11bb22',
          buildMs: 40_000,
          test: { passed: false, durationMs: 30_000, failed: ['sshd is active'] },
          promotedTo: null,
          failure: { step: 'test', message: 'checks failed: sshd is active' },
        },
        {
          recipe: 'gpu',
          version: null,
          buildMs: 3_000,
          test: null,
          promotedTo: null,
          failure: { step: 'build', message: 'apt: Unable to locate package nvidia-drvier' },
        },
      ]),
    ).toEqual([
      'recipe   version                    build   test           promoted to',
      'compute  20261125T120000Z-3fa9c1d2  117 s   PASSED (62 s)  staging',
      'tiny     20261125T120100Z-aa11bb22  40 s    FAILED (30 s)  -',
      'gpu      -                          FAILED  -              -',
      'tiny: test failed: checks failed: sshd is active',
      'gpu: build failed: apt: Unable to locate package nvidia-drvier',
    ]);
  });
});
