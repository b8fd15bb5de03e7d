import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runCli } from '../helpers/cli.js';
import { simFleet, type SimFleet } from '../helpers/sim-fleet.js';
import { makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';
import { recipeRepo } from '../../src/recipe/repo.js';
import { readHistory, treePaths, type TreeState } from '../../src/promote/tree.js';
import { readRollout, rolloutPaths } from '../../src/rollout/record.js';
import { abortRollout, pauseRollout, resumeRollout, type RolloutTools, rolloutStatus, startRollout } from '../../src/rollout/rollout.js';
import { loadSite } from '../../src/site/site-config.js';

const v1 = '20261126T090000Z-11111111';
const v2 = '20261126T100000Z-22222222';
const bad = '20261126T110000Z-33333333';
const macs = ['52:54:00:00:20:01', '52:54:00:00:20:02', '52:54:00:00:20:03', '52:54:00:00:20:04'];
const staging = '52:54:00:00:20:09';

const siteYaml = `store: store
tftpRoot: tftp
httpBaseUrl: http://10.0.2.2:8080
channels:
  staging: {}
  production: { protected: true }
nodes:
  cn[001-004]: { mac: "52:54:00:00:20:{n:02d}" }
  tn001: "${staging}"
nodeGroups:
  compute:
    image: compute
    channel: production
    hosts: ["cn[001-004]"]
  test:
    image: compute
    channel: staging
    hosts: [tn001]
`;

let site: TreeSite;
let sim: SimFleet;
let crashAt: string | undefined;
let onStep: ((name: string) => Promise<void>) | undefined;
const steps: string[] = [];

class Crash extends Error {}

async function tools(): Promise<RolloutTools> {
  const loaded = await loadSite(recipeRepo(site.repo), ['build', 'tree']);
  if (loaded.site === undefined) throw new Error(JSON.stringify(loaded.problems));
  return {
    site: loaded.site,
    paths: treePaths(loaded.site.tftpRoot),
    emit: () => {},
    signal: new AbortController().signal,
    waitMs: 5000,
    ops: sim.ops,
    siteChecks: [{ name: 'no failed units', run: 'systemctl --failed --no-legend', expect: '' }],
    defaultHealthTimeoutSeconds: 2,
    pollMs: 5,
    parallel: 8,
    step: async (name) => {
      steps.push(name);
      await onStep?.(name);
      if (name === crashAt) {
        crashAt = undefined;
        throw new Crash(`killed at ${name}`);
      }
    },
  };
}

const start = async (version: string, waves = '1,50%,100%', extra: Partial<Parameters<typeof startRollout>[1]> = {}) =>
  startRollout(await tools(), { image: `compute@${version}`, channel: 'production', waves, ...extra });

async function state(): Promise<TreeState> {
  const target = await readlink(path.join(site.tftp, 'pxeforge/current'));
  return JSON.parse(await readFile(path.join(site.tftp, 'pxeforge', target, 'state.json'), 'utf8')) as TreeState;
}

const versions = () => macs.map((mac) => sim.record(mac)?.version);
const reboots = () => macs.map((mac) => sim.reboots.get(mac) ?? 0);
const actions = async () => (await readHistory(treePaths(site.tftp))).map((e) => `${e.action}${e.wave ? ` ${e.wave}` : ''}`);

beforeEach(async () => {
  site = await makeTreeSite(siteYaml);
  for (const version of [v1, v2, bad]) await makeVersion(site.store, 'compute', version, { tested: 'passed' });
  const promoted = await runCli(['promote', `compute@${v1}`, '--channel', 'production'], site.repo);
  expect(promoted.exitCode, promoted.stderr).toBe(0);
  await runCli(['promote', `compute@${v1}`, '--channel', 'staging'], site.repo);
  sim = simFleet(site.tftp);
  sim.bad.add(bad);
  await sim.boot([...macs, staging]);
  crashAt = undefined;
  onStep = undefined;
  steps.length = 0;
});
afterEach(async () => {
  await site.remove();
});

describe('a rollout in waves', () => {
  it('moves the nodes wave by wave, each wave one switch and one reboot, and ends with the channel serving the new version', async () => {
    const outcome = await start(v2);
    expect(outcome.exitCode).toBe(0);
    expect(outcome.rollout.state).toBe('completed');
    expect(outcome.rollout.waves.map((wave) => [wave.nodes.map((n) => n.host), wave.state])).toEqual([
      [['cn001'], 'passed'],
      [['cn002'], 'passed'],
      [['cn003', 'cn004'], 'passed'],
    ]);
    expect(sim.rebootCalls).toEqual([[macs[0]], [macs[1]], [macs[2], macs[3]]]);
    expect(versions()).toEqual([v2, v2, v2, v2]);
    expect(reboots()).toEqual([1, 1, 1, 1]);
    // The staging node follows the same image in another channel: never touched.
    expect(sim.reboots.get(staging)).toBeUndefined();
    const final = await state();
    expect(final.channels.production!.compute!.version).toBe(v2);
    expect(final.channels.production!.compute!.previous).toEqual([v1]);
    expect(final.channels.staging!.compute!.version).toBe(v1);
    expect(final.rollouts).toBeUndefined();
    expect(await actions()).toEqual(['promote', 'promote', 'rollout 1', 'rollout 2', 'rollout 3', 'rollout-complete']);
    const history = await readHistory(treePaths(site.tftp));
    expect(history.find((e) => e.wave === 3)).toMatchObject({ from: v1, to: v2, nodes: ['cn003', 'cn004'], channel: 'production' });
    // Each wave's nodes booted from the generation that moved them.
    const record = (await readRollout(rolloutPaths(treePaths(site.tftp))))!;
    expect(record.waves.map((wave) => wave.generation)).toEqual([3, 4, 5]);
  });

  it('serves the moved nodes the new version through configs of their own while the others keep the old one', async () => {
    onStep = async (name) => {
      if (name !== 'wave 1 passed') return;
      const during = await state();
      expect(during.channels.production!.compute!.version).toBe(v1);
      expect(Object.keys(during.rollouts!.production!.compute!.nodes)).toEqual([macs[0]]);
      expect(during.groups.find((g) => g.name === 'compute')).toMatchObject({ version: v1, rollout: { version: v2, moved: 1 } });
      const ipxe = path.join(site.tftp, 'pxeforge/current/ipxe');
      expect(await readlink(path.join(ipxe, `${macs[0]!.replaceAll(':', '-')}.ipxe`))).toBe(`groups/compute@${v2}.ipxe`);
      expect(await readlink(path.join(ipxe, `${macs[1]!.replaceAll(':', '-')}.ipxe`))).toBe('groups/compute.ipxe');
      expect(await readFile(path.join(ipxe, `groups/compute@${v2}.ipxe`), 'utf8')).toContain(`pxeforge.version=${v2}`);
      // A promote or rollback of that image in that channel would leave its nodes on two versions.
      const promote = await runCli(['promote', `compute@${bad}`, '--channel', 'production', '--json'], site.repo);
      expect(promote.exitCode).toBe(2);
      expect(promote.stderr).toContain('ROLLOUT_ACTIVE');
      const status = await runCli(['status'], site.repo);
      expect(status.stdout).toContain(`rollout of compute ${v1} -> ${v2} in production: 1 of 4 node(s) moved`);
    };
    expect((await start(v2)).exitCode).toBe(0);
  });

  it('stops a bad image after the canary: the canary is moved back and rebooted into the old version, the others are never rebooted', async () => {
    const outcome = await start(bad);
    expect(outcome.exitCode).toBe(1);
    expect(outcome.rollout.state).toBe('stopped');
    const [canary, ...rest] = outcome.rollout.waves;
    expect(canary!.state).toBe('rolled back');
    expect(canary!.results).toEqual([
      {
        host: 'cn001',
        mac: macs[0],
        ok: false,
        check: 'no failed units',
        reason: 'exit status 1, expected 0',
        output: 'broken.service failed',
      },
    ]);
    expect(rest.every((wave) => wave.state === 'pending')).toBe(true);
    expect(reboots()).toEqual([2, 0, 0, 0]);
    expect(versions()).toEqual([v1, v1, v1, v1]);
    expect(sim.record(macs[0]!)!.generation).toBe(canary!.rollbackGeneration);
    const final = await state();
    expect(final.channels.production!.compute!.version).toBe(v1);
    expect(final.rollouts).toBeUndefined();
    expect(await actions()).toEqual(['promote', 'promote', 'rollout 1', 'rollout-rollback 1']);

    // A stopped rollout with no node left on its version gives way to a new one.
    expect((await start(v2, '1,100%')).rollout.state).toBe('completed');
    expect(versions()).toEqual([v2, v2, v2, v2]);
  });

  it('goes on within the failure budget, and names the nodes that failed', async () => {
    sim.down.add(macs[3]!);
    const outcome = await start(v2, '1,100%', { includeDown: true, maxFailures: '1', healthTimeoutSeconds: 1 });
    expect(outcome.exitCode).toBe(0);
    expect(outcome.rollout.waves[1]!.results.find((r) => !r.ok)).toMatchObject({ host: 'cn004', check: `booted compute@${v2}` });
    expect(outcome.rollout.log.map((l) => l.message)).toContain('wave 2 passed (1 failure(s) within the budget of 1)');
  });

  it('skips nodes that are down at the start, with a note (they boot the new version when they come up)', async () => {
    sim.down.add(macs[1]!);
    const outcome = await start(v2, '1,100%');
    expect(outcome.rollout.skipped).toEqual([{ host: 'cn002', mac: macs[1], group: 'compute', why: 'ssh: ECONNREFUSED' }]);
    expect(outcome.rollout.waves.flatMap((wave) => wave.nodes.map((n) => n.host))).toEqual(['cn001', 'cn003', 'cn004']);
    expect(reboots()).toEqual([1, 0, 1, 1]);
    expect((await state()).channels.production!.compute!.version).toBe(v2);
  });

  it('refuses what promote refuses, and a second rollout while one is active', async () => {
    await makeVersion(site.store, 'compute', '20261126T120000Z-44444444');
    await expect(start('20261126T120000Z-44444444')).rejects.toMatchObject({ code: 'NOT_TESTED' });
    await expect(start(v2, '1,50%')).rejects.toMatchObject({ code: 'BAD_WAVES' });
    await expect(start(v1)).rejects.toThrow(/already serves/);
    crashAt = 'wave 1 passed';
    await expect(start(v2)).rejects.toThrow(Crash);
    await expect(start(v2)).rejects.toMatchObject({ code: 'ROLLOUT_ACTIVE' });
    expect(await readRollout(rolloutPaths(treePaths(site.tftp)))).toMatchObject({ state: 'running' });
  });
});

describe('crash points: killed after any step, `rollout resume` ends where an uninterrupted rollout ends', () => {
  const good = [
    'planned',
    'wave 1 starting',
    'rollout 1 switched, not yet recorded',
    'wave 1 switched',
    'wave 1 rebooting',
    'wave 1 rebooted',
    'wave 1 passed',
    'wave 2 starting',
    'rollout 2 switched, not yet recorded',
    'wave 2 rebooted',
    'wave 2 passed',
  ];
  const undo = [
    'wave 1 rebooted',
    'wave 1 failed',
    'wave 1 rolling back',
    'rollout-rollback 1 switched, not yet recorded',
    'wave 1 switched back',
  ];
  const endings = {
    good: {
      version: v2,
      exitCode: 0,
      state: 'completed',
      versions: [v2, v2, v2, v2],
      reboots: [1, 1, 1, 1],
      actions: ['rollout 1', 'rollout 2', 'rollout-complete'],
    },
    bad: {
      version: bad,
      exitCode: 1,
      state: 'stopped',
      versions: [v1, v1, v1, v1],
      reboots: [2, 0, 0, 0],
      actions: ['rollout 1', 'rollout-rollback 1'],
    },
  } as const;
  it.each([...good.map((point) => ['good', point] as const), ...undo.map((point) => ['bad', point] as const)])(
    '%s image, killed at %s',
    async (kind, point) => {
      const end = endings[kind];
      crashAt = point;
      await expect(start(end.version, '1,100%')).rejects.toThrow(Crash);
      const status = await rolloutStatus({ paths: treePaths(site.tftp) });
      expect(status.rollout!.state).toBe('running');
      expect(status.controller).toBeUndefined();
      const outcome = await resumeRollout(await tools());
      expect({ exitCode: outcome.exitCode, state: outcome.rollout.state }).toEqual({ exitCode: end.exitCode, state: end.state });
      expect(versions()).toEqual(end.versions);
      expect(reboots()).toEqual(end.reboots);
      expect(await actions()).toEqual(['promote', 'promote', ...end.actions]);
      expect((await state()).rollouts).toBeUndefined();
    },
  );

  it('every step above is one the controller really takes', async () => {
    await start(v2, '1,100%');
    for (const point of good) expect(steps).toContain(point);
    await start(bad, '1,100%').catch(() => undefined);
    for (const point of undo) expect(steps).toContain(point);
  });
});

describe('pause, resume, abort', () => {
  it('pause stops a running controller before its next wave; resume goes on', async () => {
    onStep = async (name) => {
      if (name === 'wave 1 passed') expect((await pauseRollout(await tools())).requested).toBe(true);
    };
    const paused = await start(v2);
    expect(paused.exitCode).toBe(0);
    expect(paused.rollout.state).toBe('paused');
    expect(paused.rollout.waves.map((w) => w.state)).toEqual(['passed', 'pending', 'pending']);
    onStep = undefined;
    const status = await runCli(['rollout', 'status'], site.repo);
    expect(status.stdout).toContain('paused');
    const resumed = await resumeRollout(await tools());
    expect(resumed.rollout.state).toBe('completed');
    expect(reboots()).toEqual([1, 1, 1, 1]);
  });

  it('abort moves every moved node back in one switch, reboots and waits for them', async () => {
    onStep = async (name) => {
      if (name === 'wave 2 passed') expect(await abortRollout(await tools(), 'change window over')).toMatchObject({ requested: true });
    };
    const aborted = await start(v2);
    expect(aborted.rollout.state).toBe('aborted');
    expect(versions()).toEqual([v1, v1, v1, v1]);
    expect(reboots()).toEqual([2, 2, 0, 0]);
    expect(await actions()).toEqual(['promote', 'promote', 'rollout 1', 'rollout 2', 'rollout-rollback']);
    expect((await state()).rollouts).toBeUndefined();
    await expect(resumeRollout(await tools())).rejects.toMatchObject({ code: 'NO_ROLLOUT' });
  });

  it('an abort asked for while a failed wave is moved back is done before the controller ends', async () => {
    onStep = async (name) => {
      if (name === 'wave 1 rolling back') expect(await abortRollout(await tools(), undefined)).toMatchObject({ requested: true });
    };
    const outcome = await start(bad);
    expect(outcome.rollout.state).toBe('aborted');
    expect(versions()).toEqual([v1, v1, v1, v1]);
    expect(reboots()).toEqual([2, 0, 0, 0]);
    await expect(resumeRollout(await tools())).rejects.toMatchObject({ code: 'NO_ROLLOUT' });
  });

  it('abort of a rollout whose controller was killed does the work itself', async () => {
    crashAt = 'wave 1 rebooted';
    await expect(start(v2)).rejects.toThrow(Crash);
    const outcome = await abortRollout(await tools(), undefined);
    expect(outcome).toMatchObject({ exitCode: 0, rollout: { state: 'aborted' } });
    expect(versions()).toEqual([v1, v1, v1, v1]);
    expect(reboots()).toEqual([2, 0, 0, 0]);
  });
});

describe('pxeforge rollout', () => {
  it('refuses to start without the site’s reboot command or fleet key, before anything changes', async () => {
    const before = await state();
    let result = await runCli(['rollout', 'start', `compute@${v2}`, '--channel', 'production', '--waves', '1,100%', '--json'], site.repo);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('NO_REBOOT_COMMAND');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(site.repo, 'pxeforge.yaml'), `${siteYaml}rollout:\n  reboot: [ssh, "root@{host}", systemctl, reboot]\n`);
    result = await runCli(['rollout', 'start', `compute@${v2}`, '--channel', 'production', '--waves', '1,100%', '--json'], site.repo);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('NO_FLEET_KEY');
    result = await runCli(['rollout', 'start', 'compute', '--channel', 'production', '--waves', '1,100%'], site.repo);
    expect(result.exitCode).toBe(2);
    expect(await state()).toEqual(before);
    expect(await readRollout(rolloutPaths(treePaths(site.tftp)))).toBeUndefined();
  });

  it('status: none yet, then an interrupted rollout with how to go on, as text and as the record', async () => {
    expect((await runCli(['rollout', 'status', '--json'], site.repo)).stdout.trim()).toBe('null');
    expect((await runCli(['rollout', 'status'], site.repo)).stdout).toContain('no rollout has been started');
    crashAt = 'wave 1 rebooted';
    await expect(start(v2, '1,100%')).rejects.toThrow(Crash);
    const text = (await runCli(['rollout', 'status'], site.repo)).stdout;
    expect(text).toContain(`compute ${v1} -> ${v2} in production, waves 1,100%, max failures 0: running`);
    expect(text).toContain('no controller works on it (it was interrupted): `pxeforge rollout resume` continues');
    expect(text).toContain('wave 1 (1 node(s), may fail 0): checking: cn001');
    const record = JSON.parse((await runCli(['rollout', 'status', '--json'], site.repo)).stdout) as { waves: { state: string }[] };
    expect(record.waves.map((w) => w.state)).toEqual(['checking', 'pending']);
    expect((await runCli(['status'], site.repo)).stdout).toContain('1 of 4 node(s) moved; running, wave 1 of 2 checking (no controller');
  });
});
