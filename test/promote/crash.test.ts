import { spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { pxeforgeBin } from '../helpers/cli.js';
import { defaultSiteYaml, makeTreeSite, makeVersion, type TreeSite } from '../helpers/tree-site.js';
import { breakTreeLock } from '../../src/promote/lock.js';
import { readHistory, treePaths, type TreeState } from '../../src/promote/tree.js';
import { verifyTree } from '../../src/promote/verify.js';

/** 80 nodes in four groups, so that a promotion writes a few hundred files and links. */
function manyNodesSite(): string {
  const nodes = Array.from({ length: 80 }, (_, i) => `  n${String(i).padStart(3, '0')}: "52:54:00:01:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}"`);
  return `store: store
tftpRoot: tftp
channels:
  staging: {}
nodes:
${nodes.join('\n')}
nodeGroups:
  a: { image: tiny, channel: staging, hosts: ["n[000-019]"] }
  b: { image: tiny, channel: staging, hosts: ["n[020-039]"], firmware: uefi }
  c: { image: tiny, channel: staging, hosts: ["n[040-059]"], kernelArgs: "quiet" }
  d: { image: tiny, channel: staging, hosts: ["n[060-079]"], firmware: uefi }
`;
}

function pxeforge(site: TreeSite, argv: string[]) {
  return spawn(process.execPath, [pxeforgeBin, ...argv], { cwd: site.repo, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
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

const versions = Array.from({ length: 4 }, (_, i) => `20261125T10000${i}Z-0000000${i}`);

describe('crash safety: pxeforge promote killed with SIGKILL at random points', () => {
  const sites: TreeSite[] = [];
  afterAll(async () => {
    for (const site of sites) await site.remove();
  });

  /** `runs` kills against one tree; returns what happened. */
  async function killRuns(runs: number) {
    const site = await makeTreeSite(manyNodesSite());
    sites.push(site);
    for (const v of versions) await makeVersion(site.store, 'tiny', v);
    const paths = treePaths(site.tftp);
    const first = await exited(pxeforge(site, ['promote', `tiny@${versions[0]}`, '--channel', 'staging']));
    expect(first.code, first.stderr).toBe(0);

    // How long a whole promotion takes, and how long from taking the lock to exiting (D).
    const wholeMs: number[] = [];
    const heldMs: number[] = [];
    for (const v of [versions[1], versions[2], versions[3]]) {
      const started = Date.now();
      let locked = 0;
      let released = 0;
      // The lock appears with one rename and goes with another: two events on its name.
      const watcher = watch(paths.base, (_event, name) => {
        if (name !== 'lock') return;
        if (locked === 0) locked = Date.now();
        else released = Date.now();
      });
      const calibration = await exited(pxeforge(site, ['promote', `tiny@${v}`, '--channel', 'staging']));
      watcher.close();
      expect(calibration.code, calibration.stderr).toBe(0);
      wholeMs.push(Date.now() - started);
      heldMs.push(released - locked);
    }
    const whole = Math.max(...wholeMs);
    const held = [...heldMs].sort((x, y) => x - y)[1]!;

    const outcomes = { killedHoldingLock: 0, killedEarly: 0, finished: 0, oldServed: 0, newServed: 0 };
    for (let run = 0; run < runs; run += 1) {
      const before = await servedVersion(site);
      const target = versions.filter((v) => v !== before)[run % (versions.length - 1)]!;
      const child = pxeforge(site, ['promote', `tiny@${target}`, '--channel', 'staging', '--wait', '0']);
      const done = exited(child);
      // Most kills land while the lock is held (the critical part); some anywhere from the start.
      const early = run % 5 === 0;
      let timer: NodeJS.Timeout | undefined;
      const kill = () => child.kill('SIGKILL');
      const watcher = watch(paths.base, (_event, name) => {
        // Half uniformly over the whole critical part, half around its end (switch, entries, history).
        const delay = run % 2 === 0 ? Math.random() * held : held * (0.8 + Math.random() * 0.6);
        if (!early && name === 'lock' && timer === undefined) timer = setTimeout(kill, delay);
      });
      if (early) timer = setTimeout(kill, Math.random() * whole);
      const result = await done;
      watcher.close();
      clearTimeout(timer);
      if (result.signal === 'SIGKILL') {
        if (early) outcomes.killedEarly += 1;
        else outcomes.killedHoldingLock += 1;
      } else {
        expect(result.code, result.stderr).toBe(0);
        outcomes.finished += 1;
      }

      const report = await verifyTree(paths);
      expect(report.problems, `run ${run}`).toEqual([]);
      const after = await servedVersion(site);
      expect([before, target], `run ${run}: served ${after}`).toContain(after);
      if (after === before) outcomes.oldServed += 1;
      else outcomes.newServed += 1;
      // What an admin does after an interrupted promotion: verify (above), then unlock.
      await breakTreeLock(paths.lock, false);
    }

    // A last promotion repairs the history of a kill between switch and append.
    const now = await servedVersion(site);
    const last = await exited(pxeforge(site, ['promote', `tiny@${versions.find((v) => v !== now)}`, '--channel', 'staging']));
    expect(last.code, last.stderr).toBe(0);
    const history = await readHistory(paths);
    for (const [index, entry] of history.entries()) {
      if (index === 0) continue;
      expect(entry.generation).toBeGreaterThan(history[index - 1]!.generation);
      expect(entry.from, `history line ${index + 1}`).toBe(history[index - 1]!.to);
    }
    expect((await verifyTree(paths)).ok).toBe(true);
    return outcomes;
  }

  it('after each of 200 kills, verify passes and the channel serves the old or the new version', { timeout: 900_000 }, async () => {
    // Two trees side by side (two cores), 100 kills each.
    const [a, b] = await Promise.all([killRuns(100), killRuns(100)]);
    const total = Object.fromEntries(Object.keys(a).map((key) => [key, a[key as keyof typeof a] + b[key as keyof typeof b]]));
    console.info(`crash test: ${JSON.stringify(total)}`);
    // The kills really hit both sides of the switch.
    expect(total.killedHoldingLock).toBeGreaterThan(40);
    expect(total.oldServed).toBeGreaterThan(20);
    expect(total.newServed).toBeGreaterThan(10);
  });
});

describe('concurrent promotions', () => {
  it('8 promotes to one channel at once are serialized: all succeed, history complete and ordered, tree valid', { timeout: 120_000 }, async () => {
    const site = await makeTreeSite(defaultSiteYaml());
    try {
      const many = Array.from({ length: 9 }, (_, i) => `20261125T1100${String(i).padStart(2, '0')}Z-1111111${i}`);
      for (const v of many) await makeVersion(site.store, 'tiny', v);
      const first = await exited(pxeforge(site, ['promote', `tiny@${many[0]}`, '--channel', 'staging']));
      expect(first.code, first.stderr).toBe(0);
      const results = await Promise.all(many.slice(1).map((v) => exited(pxeforge(site, ['promote', `tiny@${v}`, '--channel', 'staging', '--reason', `concurrent ${v}`]))));
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
