import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { recipeRepo } from '../../src/recipe/repo.js';
import { fleetSnapshotFile } from '../../src/report/fleet-snapshot.js';
import { gatherReport } from '../../src/report/gather.js';
import type { ReportData } from '../../src/report/report-data.js';
import { loadSiteConfig, type SiteConfig } from '../../src/site/site-config.js';
import { renderReport } from '../../src/report/render.js';
import { runCli } from '../helpers/cli.js';
import { makeTreeSite, type TreeSite } from '../helpers/tree-site.js';
import { computeVersions, hostileUser, makeReportSite, tinyVersions } from './report-fixture.js';

let site: TreeSite;
let config: SiteConfig;
let data: ReportData;
const [c1, c2, c3, c4] = computeVersions as [string, string, string, string];
const [, t2] = tinyVersions as [string, string];

beforeAll(async () => {
  site = await makeReportSite({ hostile: true });
  config = (await loadSiteConfig(recipeRepo(site.repo), ['compute', 'tiny'])).site!;
  data = await gatherReport(config, new Date('2026-11-25T12:00:00Z'));
});
afterAll(() => site.remove());

describe('gatherReport', () => {
  it('shows each channel with what it serves, its test verdict and its rollback list', () => {
    expect(data.generation).toBe(8);
    const production = data.channels.find((c) => c.name === 'production')!;
    expect(production.protected).toBe(true);
    expect(production.served).toEqual([
      // A rollback checks no test report: the tree records none for it.
      expect.objectContaining({ image: 'compute', version: c2, test: 'untested', rollback: [c1], commit: 'a'.repeat(40), dirty: false }),
    ]);
    const staging = data.channels.find((c) => c.name === 'staging')!;
    expect(staging.served.map((s) => [s.image, s.version, s.test, s.rollback])).toEqual([
      ['compute', c4, 'passed', [c2]],
      ['tiny', t2, 'passed', [tinyVersions[0]]],
    ]);
  });

  it('lists every member of every node group with what it should boot now', () => {
    expect(data.groups.map((g) => [g.name, g.shouldBoot, g.members.map((m) => m.host ?? m.mac)])).toEqual([
      ['compute', `compute@${c2}`, ['cn001', 'cn002']],
      ['canary', `tiny@${t2}`, ['52:54:00:12:34:56']],
      ['gpu', `compute@${c4}`, ['cn003']],
    ]);
    expect(data.groups.every((g) => !g.notRendered && g.members.every((m) => m.fleet === null))).toBe(true);
    expect(data.fleet).toEqual({ file: fleetSnapshotFile(config.store), takenAt: null, problem: null });
  });

  it('marks a group that pxeforge.yaml changed since the current generation was rendered', async () => {
    const edited = { ...config, nodeGroups: config.nodeGroups.map((g) => (g.name === 'gpu' ? { ...g, firmware: 'bios' as const } : g)) };
    expect((await gatherReport(edited)).groups.map((g) => [g.name, g.notRendered])).toEqual([
      ['compute', false],
      ['canary', false],
      ['gpu', true],
    ]);
  });

  it('turns the history into a timeline, newest first, with forced, rollback and recovered marked', () => {
    expect(data.timeline.map((e) => [e.generation, e.kind])).toEqual([
      [8, 'promote'],
      [8, 'promote'],
      [7, 'rollback'],
      [6, 'promote'],
      [5, 'promote'],
      [4, 'promote'],
      [3, 'promote'],
      [2, 'promote'],
      [1, 'promote'],
    ]);
    const forced = data.timeline.filter((e) => e.forced);
    expect(forced.map((e) => [e.channel, e.to])).toEqual([['production', c3]]);
    expect(data.timeline[2]).toMatchObject({
      kind: 'rollback',
      channel: 'production',
      from: c3,
      to: c2,
      reason: 'nodes hang at mount of /scratch',
    });
    expect(data.timeline[0]).toMatchObject({ user: hostileUser, recovered: expect.stringContaining('pid 4242') });
    expect(data.warnings).toEqual(['history.jsonl line 10: not valid JSON; not shown']);
  });

  it('lists each image version with size, packages, boot phases and what serves it', () => {
    expect(data.images.map((i) => i.name)).toEqual(['compute', 'tiny']);
    const compute = data.images[0]!;
    expect(compute.versions.map((v) => [v.version, v.size, v.packages, v.kernel, v.test?.passed, v.servedBy])).toEqual([
      [c1, 3 * 3000, 10, '6.1.0-27-amd64', true, []],
      [c2, 3 * 3900, 11, '6.1.0-27-amd64', true, ['production']],
      [c3, 3 * 4800, 11, '6.1.0-27-amd64', false, []],
      [c4, 3 * 5700, 11, '6.1.0-28-amd64', true, ['staging']],
    ]);
    expect(compute.versions[1]!.test).toMatchObject({
      checks: 3,
      checksPassed: 3,
      stale: false,
      phases: { kernel: 900, 'ssh up': 14_600 },
    });
    expect(compute.versions[2]!.test).toMatchObject({ checks: 3, checksPassed: 2 });
  });

  it('diffs each pair of consecutive versions as `pxeforge diff` does', () => {
    const [first, second, third] = data.images[0]!.changes;
    expect(data.images[0]!.changes.map((c) => [c.from, c.to])).toEqual([
      [c1, c2],
      [c2, c3],
      [c3, c4],
    ]);
    expect(first!.diff.packages).toEqual({
      added: ['slurmd 22.05.1-1'],
      removed: [],
      changed: [{ name: 'openssh-server', from: '1.0-1', to: '1:9.2p1-2+deb12u4' }],
    });
    expect(first!.diff.kernel).toBeUndefined();
    expect(first!.diff.inputs.changed).toEqual(['recipes/compute.yaml']);
    expect(second!.diff.inputs.changed).toEqual(['overlays/common/etc/motd', 'recipes/compute.yaml']);
    expect(third!.diff.kernel).toEqual({ from: '6.1.0-27-amd64', to: '6.1.0-28-amd64' });
  });

  it('shows each member as the fleet snapshot saw it: booted, verified, drift, pending reboot', async () => {
    const file = fleetSnapshotFile(config.store);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(
      file,
      JSON.stringify({
        schemaVersion: 1,
        takenAt: '2026-11-25T11:00:00Z',
        nodes: {
          '52:54:00:00:10:01': { booted: { image: 'compute', version: c2, generation: 8 }, verified: true, pendingReboot: false },
          '52:54:00:00:10:02': { booted: { image: 'compute', version: c1, generation: 3 }, verified: false, pendingReboot: true },
          '52:54:00:00:10:03': { booted: null, verified: null, pendingReboot: false, problem: 'ssh: connection refused' },
        },
      }),
    );
    try {
      const withFleet = await gatherReport(config);
      const compute = withFleet.groups[0]!;
      expect(compute.members.map((m) => m.fleet)).toEqual([
        { booted: `compute@${c2}`, verified: true, pendingReboot: false, drift: false, problem: null },
        { booted: `compute@${c1}`, verified: false, pendingReboot: true, drift: true, problem: null },
      ]);
      expect(compute.counts).toEqual({ members: 2, reported: 2, drift: 1, pendingReboot: 1, unverified: 1 });
      expect(withFleet.groups[1]!.members[0]!.fleet).toMatchObject({ problem: 'not in the snapshot' });
      expect(withFleet.groups[2]!.members[0]!.fleet).toMatchObject({ booted: null, problem: 'ssh: connection refused', drift: false });
      expect(withFleet.fleet.takenAt).toBe('2026-11-25T11:00:00Z');

      await writeFile(file, JSON.stringify({ schemaVersion: 1, nodes: {} }));
      const damaged = await gatherReport(config);
      expect(damaged.fleet.problem).toBe('is not a fleet snapshot (takenAt: Invalid input: expected string, received undefined)');
      expect(damaged.warnings).toContain(
        'the fleet snapshot is not a fleet snapshot (takenAt: Invalid input: expected string, received undefined); members show what they should boot only',
      );
    } finally {
      await rm(path.dirname(file), { recursive: true });
    }
  });

  it('shows a version whose manifest cannot be read as a problem, not an error', async () => {
    const dir = path.join(config.store, 'images', 'tiny', '20261120T000000Z-deadbeef');
    await mkdir(dir);
    await writeFile(path.join(dir, 'manifest.json'), '{"version": 3');
    try {
      const tiny = (await gatherReport(config)).images[1]!;
      expect(tiny.versions.at(-1)).toMatchObject({
        version: '20261120T000000Z-deadbeef',
        size: 0,
        packages: null,
        test: null,
        problem: 'manifest.json is not valid JSON',
      });
      expect(tiny.changes).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('a site where nothing was built or promoted yet', () => {
  it('shows the channels and node groups of pxeforge.yaml serving nothing', async () => {
    const empty = await makeTreeSite();
    try {
      const fresh = await gatherReport((await loadSiteConfig(recipeRepo(empty.repo), ['compute', 'tiny'])).site!);
      expect(fresh).toMatchObject({ generation: null, timeline: [], images: [], warnings: [] });
      expect(fresh.channels.map((c) => [c.name, c.served])).toEqual([
        ['staging', []],
        ['production', []],
      ]);
      expect(fresh.groups.map((g) => [g.name, g.shouldBoot, g.notRendered, g.members.length])).toEqual([
        ['compute', null, false, 2],
        ['canary', null, false, 1],
        ['gpu', null, false, 1],
      ]);
      const html = renderReport(fresh, '');
      expect(html).toContain('<title>pxeforge report — nothing promoted yet</title>');
      expect(html).toContain('No images in the store yet.');
      expect(html).toContain('nothing yet (never promoted)');
    } finally {
      await empty.remove();
    }
  });
});

describe('pxeforge report', () => {
  const cli = (...argv: string[]) => runCli(argv, site.repo);

  it('writes index.html atomically, leaving no temporary file', async () => {
    const run = await cli('report', '--out', 'var/report');
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^wrote .*var\/report\/index\.html \(\d+ KiB in \d+ ms\)\n$/);
    expect(await readdir(path.join(site.repo, 'var/report'))).toEqual(['index.html']);
    expect(await readFile(path.join(site.repo, 'var/report/index.html'), 'utf8')).toMatch(/^<!doctype html>/);
  });

  it('refuses an --out inside the TFTP root, also through a symlink, and writes nothing', async () => {
    await symlink(path.join(site.tftp, 'pxeforge'), path.join(site.dir, 'sneaky'));
    for (const out of ['tftp/reports', path.join(site.dir, 'sneaky', 'r'), 'tftp']) {
      const run = await cli('report', '--out', out);
      expect(run.exitCode).toBe(2);
      expect(run.stderr).toContain('is inside the PXE tree');
      expect(run.stderr).toContain('nothing was written');
    }
    expect(await readdir(site.tftp)).not.toContain('reports');
    expect(await readdir(path.join(site.tftp, 'pxeforge'))).not.toContain('r');
  });
});
