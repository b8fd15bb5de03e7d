import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { pxeforgeBin } from '../helpers/cli.js';
import { defaultSiteYaml, makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';
import { breakTreeLock } from '../../src/promote/lock.js';
import { readCurrent, readHistory, treePaths, type TreePaths, type TreeState } from '../../src/promote/tree.js';
import { verifyTree } from '../../src/promote/verify.js';

/** Up to 80 nodes in four node groups (two BIOS, two UEFI), so that a change writes a few hundred files and links. */
const nodeCount = 80;
const groupNames = ['a', 'b', 'c', 'd'] as const;
type Group = (typeof groupNames)[number];
const uefiGroups = new Set<Group>(['b', 'd']);
/** The node group of each node (by index), or null for a node in none. */
type Membership = (Group | null)[];

const nodeName = (i: number) => `n${String(i).padStart(3, '0')}`;
const nodeMac = (i: number) => `52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const fixedMembership: Membership = Array.from({ length: nodeCount }, (_, i) => groupNames[Math.floor(i / 20)]!);
/** Four nodes per group: where the number of nodes does not matter, a faster change. */
const fewNodes: Membership = Array.from({ length: 16 }, (_, i) => groupNames[Math.floor(i / 4)]!);

/** Up to 16 nodes moved at random to another group or out of all; n000, n020, n040 and n060 stay, so that no group is empty. */
function moveSomeNodes(membership: Membership): Membership {
  const moved = [...membership];
  for (let n = 0; n < 16; n += 1) {
    const i = Math.floor(Math.random() * nodeCount);
    if (i % 20 !== 0) moved[i] = Math.random() < 0.2 ? null : groupNames[Math.floor(Math.random() * groupNames.length)]!;
  }
  return moved;
}

function manyNodesSite(membership: Membership = fixedMembership, store = 'store'): string {
  const nodes = membership.map((_, i) => `  ${nodeName(i)}: "${nodeMac(i)}"`);
  const hosts = (group: Group) => JSON.stringify(membership.flatMap((g, i) => (g === group ? [nodeName(i)] : [])));
  return `store: ${store}
tftpRoot: tftp
channels:
  staging: {}
nodes:
${nodes.join('\n')}
nodeGroups:
  a: { image: tiny, channel: staging, hosts: ${hosts('a')} }
  b: { image: tiny, channel: staging, hosts: ${hosts('b')}, firmware: uefi }
  c: { image: tiny, channel: staging, hosts: ${hosts('c')}, kernelArgs: "quiet" }
  d: { image: tiny, channel: staging, hosts: ${hosts('d')}, firmware: uefi }
`;
}

function pxeforge(site: TreeSite, argv: string[]) {
  return spawn(process.execPath, [pxeforgeBin, ...argv], { cwd: site.repo, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(
  child: ReturnType<typeof spawn>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

async function servedVersion(site: TreeSite): Promise<string | undefined> {
  const target = await readlink(path.join(site.tftp, 'pxeforge/current')).catch(() => undefined);
  if (target === undefined) return undefined;
  const state = JSON.parse(await readFile(path.join(site.tftp, 'pxeforge', target, 'state.json'), 'utf8')) as TreeState;
  return state.channels.staging?.tiny?.version;
}

async function servedGeneration(paths: TreePaths): Promise<number | undefined> {
  return (await readCurrent(paths))?.generation;
}

/** When a run is killed: a while after it starts, or a while after a name first changes in a directory. */
type KillPlan = { after: number } | { dirs: string[]; match: (name: string) => boolean; delay: () => number };

/** Runs pxeforge and kills it as planned; a run that outlives its kill must have succeeded. */
async function runAndKill(site: TreeSite, argv: string[], plan: KillPlan): Promise<boolean> {
  const child = pxeforge(site, argv);
  const done = exited(child);
  let timer: NodeJS.Timeout | undefined;
  const kill = () => child.kill('SIGKILL');
  const watchers: FSWatcher[] = [];
  if ('after' in plan) timer = setTimeout(kill, plan.after);
  else {
    for (const dir of plan.dirs) {
      watchers.push(
        watch(dir, (_event, name) => {
          if (timer === undefined && name !== null && plan.match(String(name))) timer = setTimeout(kill, plan.delay());
        }),
      );
    }
  }
  const result = await done;
  for (const watcher of watchers) watcher.close();
  clearTimeout(timer);
  if (result.signal === 'SIGKILL') return true;
  expect(result.code, result.stderr).toBe(0);
  return false;
}

/**
 * Three runs of a change, each timed: the whole run, the time the lock is held, and the time
 * from the first to the last change of a name in `phaseDirs` (placement, entry links).
 */
async function calibrate(site: TreeSite, paths: TreePaths, next: () => Promise<string[]>, phaseDirs: string[] = []) {
  const whole: number[] = [];
  const held: number[] = [];
  const phase: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const argv = await next();
    const started = Date.now();
    const lock = { taken: 0, released: 0 };
    const seen = { first: 0, last: 0 };
    // The lock appears with one rename and goes with another: two events on its name.
    const watchers = [
      watch(paths.base, (_event, name) => {
        if (name !== 'lock') return;
        if (lock.taken === 0) lock.taken = Date.now();
        else lock.released = Date.now();
      }),
      ...phaseDirs.map((dir) =>
        watch(dir, () => {
          seen.last = Date.now();
          if (seen.first === 0) seen.first = seen.last;
        }),
      ),
    ];
    const result = await exited(pxeforge(site, argv));
    for (const watcher of watchers) watcher.close();
    expect(result.code, result.stderr).toBe(0);
    whole.push(Date.now() - started);
    held.push(lock.released - lock.taken);
    phase.push(seen.last - seen.first);
  }
  const median = (values: number[]) => [...values].sort((x, y) => x - y)[1]!;
  return { whole: Math.max(...whole), held: median(held), phase: Math.max(1, median(phase)) };
}

/** After a kill: the tree verifies, and an admin clears the lock the killed run held (reported if it did). */
async function afterKill(paths: TreePaths, label: string): Promise<{ heldLock: boolean }> {
  const report = await verifyTree(paths);
  expect(report.problems, label).toEqual([]);
  const heldLock = await stat(paths.lock).then(
    () => true,
    () => false,
  );
  await breakTreeLock(paths.lock, false);
  return { heldLock };
}

interface Outcomes {
  kills: number;
  finished: number;
  oldServed: number;
  newServed: number;
  killedHoldingLock: number;
  /** Killed with a staged (hidden) version directory in images/<name>/: placement under way. */
  killedPlacing: number;
  /** Killed with entry links half changed: staged links left, or links that differ from what `current` lists. */
  killedChangingEntries: number;
}
const noOutcomes = (): Outcomes => ({
  kills: 0,
  finished: 0,
  oldServed: 0,
  newServed: 0,
  killedHoldingLock: 0,
  killedPlacing: 0,
  killedChangingEntries: 0,
});

describe('crash safety: pxeforge killed with SIGKILL at random points', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });
  async function newSite(yaml: string): Promise<TreeSite> {
    const site = await makeTreeSite(yaml);
    cleanups.push(() => site.remove());
    return site;
  }

  /** The history chain of promotions: each starts from what the one before switched to. */
  async function expectHistoryChained(paths: TreePaths) {
    const history = await readHistory(paths);
    for (const [index, entry] of history.entries()) {
      if (index === 0) continue;
      expect(entry.generation).toBeGreaterThan(history[index - 1]!.generation);
      expect(entry.from, `history line ${index + 1}`).toBe(history[index - 1]!.to);
    }
  }

  /** `promote` between versions already in the tree: kills around the switch of `current`. */
  async function promoteKills(runs: number): Promise<Outcomes> {
    const versions = Array.from({ length: 4 }, (_, i) => `20261125T10000${i}Z-0000000${i}`);
    const site = await newSite(manyNodesSite());
    const paths = treePaths(site.tftp);
    for (const v of versions) await makeVersion(site.store, 'tiny', v);
    const first = await exited(pxeforge(site, ['promote', `tiny@${versions[0]}`, '--channel', 'staging']));
    expect(first.code, first.stderr).toBe(0);
    const calibration = versions.slice(1);
    const { whole, held } = await calibrate(site, paths, async () => ['promote', `tiny@${calibration.shift()}`, '--channel', 'staging']);

    const outcomes = noOutcomes();
    for (let run = 0; run < runs; run += 1) {
      const before = await servedVersion(site);
      const target = versions.filter((v) => v !== before)[run % (versions.length - 1)]!;
      // Most kills land while the lock is held (the critical part), half of those around its end
      // (switch, entries, history); some anywhere from the start.
      const plan: KillPlan =
        run % 5 === 0
          ? { after: Math.random() * whole }
          : {
              dirs: [paths.base],
              match: (name) => name === 'lock',
              delay: () => (run % 2 === 0 ? Math.random() * held : held * (0.8 + Math.random() * 0.6)),
            };
      const killed = await runAndKill(site, ['promote', `tiny@${target}`, '--channel', 'staging', '--wait', '0'], plan);
      const label = `promote run ${run}`;
      const { heldLock } = await afterKill(paths, label);
      const after = await servedVersion(site);
      expect([before, target], `${label}: served ${after}`).toContain(after);
      count(outcomes, { killed, heldLock, switched: after !== before });
    }
    // A last promotion repairs the history of a kill between switch and append.
    const now = await servedVersion(site);
    const last = await exited(pxeforge(site, ['promote', `tiny@${versions.find((v) => v !== now)}`, '--channel', 'staging']));
    expect(last.code, last.stderr).toBe(0);
    await expectHistoryChained(paths);
    expect((await verifyTree(paths)).ok).toBe(true);
    return outcomes;
  }

  /**
   * `promote` of versions the tree has never held: kills while their artifacts are placed
   * (copied across file systems when the store can be put on another one, else hard-linked).
   */
  async function placementKills(runs: number): Promise<Outcomes> {
    const store = await otherFileSystemDir();
    const site = await newSite(manyNodesSite(fewNodes, store ?? 'store'));
    if (store !== undefined) cleanups.push(() => rm(store, { recursive: true, force: true }));
    const paths = treePaths(site.tftp);
    const storeDir = store ?? site.store;
    let made = 0;
    const freshVersion = async () =>
      makeVersion(storeDir, 'tiny', `20261126T${String(100000 + made).padStart(6, '0')}Z-${String(made++).padStart(8, '0')}`, {
        size: 256 * 1024,
      });
    const first = await exited(pxeforge(site, ['promote', `tiny@${await freshVersion()}`, '--channel', 'staging']));
    expect(first.code, first.stderr).toBe(0);
    const imageDir = path.join(paths.images, 'tiny');
    const { whole, held, phase } = await calibrate(
      site,
      paths,
      async () => ['promote', `tiny@${await freshVersion()}`, '--channel', 'staging'],
      [imageDir],
    );

    const outcomes = noOutcomes();
    let retry: string | undefined;
    for (let run = 0; run < runs; run += 1) {
      const before = await servedVersion(site);
      // A promotion that was killed is run again, as an admin would (its version may be half placed, or placed and not served).
      const target = retry ?? (await freshVersion());
      // Most kills land while the version's staged directory exists; some anywhere while the lock is held, some anywhere.
      const plan: KillPlan =
        run % 6 === 0
          ? { after: Math.random() * whole }
          : run % 6 === 1
            ? { dirs: [paths.base], match: (name) => name === 'lock', delay: () => Math.random() * held }
            : { dirs: [imageDir], match: (name) => name.startsWith('.'), delay: () => Math.random() * phase * 1.2 };
      const killed = await runAndKill(site, ['promote', `tiny@${target}`, '--channel', 'staging', '--wait', '0'], plan);
      const label = `placement run ${run}`;
      const placing = (await readdir(imageDir)).some((name) => name.startsWith('.'));
      const { heldLock } = await afterKill(paths, label);
      const after = await servedVersion(site);
      expect([before, target], `${label}: served ${after}`).toContain(after);
      retry = after === target || run % 2 === 0 ? undefined : target;
      count(outcomes, { killed, heldLock, switched: after !== before, placing });
    }
    const last = await exited(pxeforge(site, ['promote', `tiny@${await freshVersion()}`, '--channel', 'staging']));
    expect(last.code, last.stderr).toBe(0);
    await expectHistoryChained(paths);
    expect((await verifyTree(paths)).ok).toBe(true);
    return outcomes;
  }

  /** `refresh` after nodes moved between node groups (and in and out of them): kills while entry links change. */
  async function refreshKills(runs: number): Promise<Outcomes> {
    const site = await newSite(manyNodesSite());
    const paths = treePaths(site.tftp);
    await makeVersion(site.store, 'tiny', '20261125T100000Z-00000000');
    const first = await exited(pxeforge(site, ['promote', 'tiny@20261125T100000Z-00000000', '--channel', 'staging']));
    expect(first.code, first.stderr).toBe(0);
    const entryDirs = [path.join(site.tftp, 'pxelinux.cfg'), path.join(site.tftp, 'grub')];
    let written = fixedMembership;
    const moveNodes = async (membership: Membership) => {
      written = membership;
      await writeFile(path.join(site.repo, 'pxeforge.yaml'), manyNodesSite(membership));
      return ['refresh', '--wait', '0'];
    };
    const { whole, held, phase } = await calibrate(site, paths, async () => moveNodes(moveSomeNodes(written)), entryDirs);
    let served = { generation: (await servedGeneration(paths))!, membership: written };

    const outcomes = noOutcomes();
    for (let run = 0; run < runs; run += 1) {
      // Moves from what is served (after a kill, other moves than the killed refresh's).
      const membership = moveSomeNodes(served.membership);
      const argv = await moveNodes(membership);
      const plan: KillPlan =
        run % 6 === 0
          ? { after: Math.random() * whole }
          : run % 6 === 1
            ? { dirs: [paths.base], match: (name) => name === 'lock', delay: () => Math.random() * held }
            : { dirs: entryDirs, match: () => true, delay: () => Math.random() * phase };
      const killed = await runAndKill(site, argv, plan);
      const label = `refresh run ${run}`;
      const changing = await entriesChanging(paths);
      const { heldLock } = await afterKill(paths, label);
      const generation = (await servedGeneration(paths))!;
      const switched = generation !== served.generation;
      if (switched) served = { generation, membership };
      await expectNodesBootTheirGroup(paths, served, label);
      count(outcomes, { killed, heldLock, switched, changing });
    }
    const last = await exited(pxeforge(site, await moveNodes(fixedMembership)));
    expect(last.code, last.stderr).toBe(0);
    await expectNodesBootTheirGroup(paths, { generation: (await servedGeneration(paths))!, membership: fixedMembership }, 'last refresh');
    expect(await entriesChanging(paths)).toBe(false);
    expect((await verifyTree(paths)).ok).toBe(true);
    return outcomes;
  }

  it('after each of 200 kills (promote, placement, refresh), verify passes and nodes boot the old or the new state', {
    timeout: 900_000,
  }, async () => {
    // Three trees side by side (on two cores): 70 + 65 + 65 kills.
    const timed = async (lane: Promise<Outcomes>) => {
      const started = Date.now();
      return { ...(await lane), seconds: Math.round((Date.now() - started) / 1000) };
    };
    const lanes = await Promise.all([timed(promoteKills(70)), timed(placementKills(65)), timed(refreshKills(65))]);
    const [promote, placement, refresh] = lanes;
    const total = noOutcomes();
    for (const lane of lanes) for (const key of Object.keys(total) as (keyof Outcomes)[]) total[key] += lane[key];
    console.info(`crash test: ${JSON.stringify({ promote, placement, refresh, total })}`);
    // The kills really hit both sides of the switch, placements and entry changes. Bounds are
    // loose: on a loaded two-core host a kill lands later than planned.
    expect(total.killedHoldingLock).toBeGreaterThan(40);
    expect(total.oldServed).toBeGreaterThan(20);
    expect(total.newServed).toBeGreaterThan(10);
    expect(placement.killedPlacing).toBeGreaterThan(8);
    expect(refresh.killedChangingEntries).toBeGreaterThan(8);
  });
});

function count(
  outcomes: Outcomes,
  run: { killed: boolean; heldLock: boolean; switched: boolean; placing?: boolean; changing?: boolean },
): void {
  if (run.killed) outcomes.kills += 1;
  else outcomes.finished += 1;
  if (run.switched) outcomes.newServed += 1;
  else outcomes.oldServed += 1;
  if (run.heldLock) outcomes.killedHoldingLock += 1;
  if (run.placing === true) outcomes.killedPlacing += 1;
  if (run.changing === true) outcomes.killedChangingEntries += 1;
}

/** A directory for the store on another file system than the tree (so that placement copies), if the host has one. */
async function otherFileSystemDir(): Promise<string | undefined> {
  const shm = await stat('/dev/shm').catch(() => undefined);
  const tmp = await stat(tmpdir());
  if (shm === undefined || shm.dev === tmp.dev) return undefined;
  return mkdtemp('/dev/shm/pxeforge-store-').catch(() => undefined);
}

/** A node's entry point in the TFTP root: pxelinux asks for the first, GRUB (UEFI) for the second. */
const entryOf = (mac: string, uefi: boolean) =>
  uefi ? `grub/grub.cfg-01-${mac.replaceAll(':', '-')}` : `pxelinux.cfg/01-${mac.replaceAll(':', '-')}`;

/**
 * Every node's entry point, followed as a TFTP server does, gives the config of its node group
 * in the served generation; an entry of a node that has none there (or of the other firmware)
 * is absent or leads nowhere, so that the node falls back to the default config.
 */
async function expectNodesBootTheirGroup(
  paths: TreePaths,
  served: { generation: number; membership: Membership },
  label: string,
): Promise<void> {
  for (const [i, group] of served.membership.entries()) {
    for (const uefi of [false, true]) {
      const entry = entryOf(nodeMac(i), uefi);
      const content = await readFile(path.join(paths.root, entry), 'utf8').catch(() => undefined);
      const expected = group !== null && uefiGroups.has(group) === uefi ? group : undefined;
      const where = `${label}: ${nodeName(i)} (${group ?? 'no group'}), ${entry}`;
      if (expected === undefined) expect(content, where).toBeUndefined();
      else expect(content?.split('\n')[0], where).toMatch(new RegExp(`generation ${served.generation}: node group ${expected} `));
    }
  }
}

/** Staged entry links left, or pxeforge's links differ from the entries `current` lists: a change was under way. */
async function entriesChanging(paths: TreePaths): Promise<boolean> {
  const listed = new Set(
    Object.keys((await readCurrent(paths))!.state.entries).filter((entry) => entry.includes('/01-') || entry.includes('.cfg-01-')),
  );
  const present = new Set<string>();
  for (const dir of ['pxelinux.cfg', 'grub']) {
    for (const name of await readdir(path.join(paths.root, dir)).catch(() => [] as string[])) {
      if (name.endsWith('.pxeforge-tmp')) return true;
      if (name.startsWith('01-') || name.startsWith('grub.cfg-01-')) present.add(`${dir}/${name}`);
    }
  }
  return present.size !== listed.size || [...present].some((entry) => !listed.has(entry));
}

describe('concurrent promotions', () => {
  it('8 promotes to one channel at once are serialized: all succeed, history complete and ordered, tree valid', {
    timeout: 120_000,
  }, async () => {
    const site = await makeTreeSite(defaultSiteYaml());
    try {
      const many = Array.from({ length: 9 }, (_, i) => `20261125T1100${String(i).padStart(2, '0')}Z-1111111${i}`);
      for (const v of many) await makeVersion(site.store, 'tiny', v);
      const first = await exited(pxeforge(site, ['promote', `tiny@${many[0]}`, '--channel', 'staging']));
      expect(first.code, first.stderr).toBe(0);
      const results = await Promise.all(
        many.slice(1).map((v) => exited(pxeforge(site, ['promote', `tiny@${v}`, '--channel', 'staging', '--reason', `concurrent ${v}`]))),
      );
      for (const result of results) expect(result.code, result.stderr).toBe(0);
      const paths = treePaths(site.tftp);
      const history = await readHistory(paths);
      expect(history.map((e) => e.generation)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(new Set(history.map((e) => e.to))).toEqual(new Set(many));
      for (let i = 1; i < history.length; i += 1) expect(history[i]!.from).toBe(history[i - 1]!.to);
      expect(await servedVersion(site)).toBe(history.at(-1)!.to);
      const report = await verifyTree(paths, { httpBaseUrl: 'http://10.0.2.2:8080' });
      expect(report.problems).toEqual([]);
      expect(report.generation).toBe(9);
    } finally {
      await site.remove();
    }
  });
});
