import { randomBytes } from 'node:crypto';
import { open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import type { CheckSpec } from '../boot-test/checks.js';
import { ExitCode, invalidInput, UserError } from '../errors/user-error.js';
import type { NodeReading } from '../fleet/read-node.js';
import { getFormat } from '../formats/registry.js';
import { applyChange, readPlacedManifest, type ChangeResult, type TreeTools } from '../promote/apply.js';
import { acquireTreeLock, currentUser, describeOwner, readLock } from '../promote/lock.js';
import { placeVersion } from '../promote/place.js';
import { checkPromotable, nextServed, withServed, type Promotable } from '../promote/promote.js';
import { readCurrent, type TreeState } from '../promote/tree.js';
import { eachLimited } from '../progress/each-limited.js';
import type { Manifest } from '../store/manifest.js';
import { exists } from '../store/store.js';
import {
  type GateResult,
  isActive,
  readRollout,
  type Rollout,
  type RolloutPaths,
  rolloutPaths,
  type Wave,
  writeRollout,
} from './record.js';
import { interleave, parseMaxFailures, parseWaves, planWaves, type RolloutNode, waveBudget } from './waves.js';

/**
 * A rollout in waves (docs/rollout.md): each wave moves some of the channel's nodes to the new
 * version in one generation switch, reboots them through the site's own tool, and gates on
 * their health: each must boot the new version (a verified root where the format fetches it)
 * and pass the recipe's checks and the site's. A wave beyond its failure budget is moved back
 * in one switch, rebooted into the old version and waited for, and the rollout stops.
 *
 * Crash safety: every step is announced in the record before it is taken and recorded after,
 * and every step can be taken again: a switch that already happened finds nothing to do, a
 * reboot is sent only to nodes not yet on the version they should boot, a gate reads the
 * nodes again. So `resume` after a SIGKILL at any point continues to the same end.
 */

/** What the controller does to nodes: read their boot record, run checks on them, reboot them (the site's tool). */
export interface FleetOps {
  read(node: RolloutNode): Promise<NodeReading>;
  check(
    node: RolloutNode,
    checks: readonly CheckSpec[],
  ): Promise<{ ok: true } | { ok: false; check: string; reason: string; output: string }>;
  /** Reboots the nodes; a node whose command failed is named with the problem. */
  reboot(nodes: readonly RolloutNode[]): Promise<Map<string, string>>;
  /** Throws when the nodes cannot be rebooted at all (a value their reboot command names is missing): checked before anything changes. */
  checkReboot?(nodes: readonly RolloutNode[]): void;
}

export interface RolloutTools extends TreeTools {
  ops: FleetOps;
  /** The site's health checks (`rollout.checks`), run after the recipe's. */
  siteChecks: readonly CheckSpec[];
  /** `rollout.healthTimeoutSeconds`, when `--health-timeout` is not given. */
  defaultHealthTimeoutSeconds: number;
  /** How often a waiting gate reads the nodes again; default 3 s. */
  pollMs?: number;
  /** Most nodes read or checked at once. */
  parallel: number;
  /** Called after each step is recorded, with its name (tests stop the process there). */
  step?: (name: string) => void | Promise<void>;
}

export interface StartOptions {
  image: string;
  channel: string;
  waves: string;
  maxFailures?: string;
  healthTimeoutSeconds?: number;
  reason?: string;
  includeDown?: boolean;
  force?: boolean;
  allowDirty?: boolean;
}

export interface RolloutOutcome {
  rollout: Rollout;
  /** ok: completed, paused or aborted as asked; failed: a wave failed its gate and was moved back. */
  exitCode: number;
}

class AbortRequested extends Error {}

/** `rollout start`: checks the version like promote, plans the waves over the nodes that answer, and runs them. */
export async function startRollout(tools: RolloutTools, options: StartOptions): Promise<RolloutOutcome> {
  const steps = parseWaves(options.waves);
  const budget = parseMaxFailures(options.maxFailures ?? '0');
  const healthTimeoutSeconds = options.healthTimeoutSeconds ?? tools.defaultHealthTimeoutSeconds;
  if (!(healthTimeoutSeconds > 0)) throw invalidInput('BAD_OPTION', `--health-timeout takes seconds (> 0), got ${healthTimeoutSeconds}`);
  const rp = rolloutPaths(tools.paths);
  return withController(tools, rp, `rollout start ${options.image} --channel ${options.channel}`, async () => {
    const previous = await readRollout(rp);
    const current = await readCurrent(tools.paths);
    if (isActive(previous) && !(previous!.state === 'stopped' && movedOf(current?.state, previous!).length === 0)) {
      throw invalidInput(
        'ROLLOUT_ACTIVE',
        `the rollout of ${previous!.image}@${previous!.to} in channel \`${previous!.channel}\` is ${previous!.state}`,
        'nothing was changed. `pxeforge rollout resume` finishes it, `pxeforge rollout abort` moves its nodes back; then start the new one',
      );
    }
    const promotable = await checkPromotable(tools, {
      image: options.image,
      channel: options.channel,
      reason: options.reason,
      force: options.force,
      allowDirty: options.allowDirty,
    });
    const { name, version } = promotable;
    const served = current?.state.channels[options.channel]?.[name];
    if (served === undefined) {
      throw invalidInput(
        'NOT_SERVED',
        `channel \`${options.channel}\` serves no version of ${name} yet: a rollout moves nodes from one version to another`,
        `promote the first version: pxeforge promote ${name}@${version} --channel ${options.channel}`,
      );
    }
    if (served.version === version) throw invalidInput('BAD_ARGUMENT', `channel \`${options.channel}\` already serves ${name}@${version}`);
    const pending = current?.state.rollouts?.[options.channel]?.[name];
    if (pending !== undefined)
      throw invalidInput(
        'ROLLOUT_ACTIVE',
        `the tree still serves ${name}@${pending.version} to ${Object.keys(pending.nodes).length} node(s) of channel \`${options.channel}\` from an earlier rollout`,
        'nothing was changed. `pxeforge rollout abort` moves them back',
      );
    const groups = tools.site.nodeGroups.filter((group) => group.image === name && group.channel === options.channel);
    const targets = groups.map((group) =>
      group.members.map((member) => ({ mac: member.mac, host: member.host ?? null, group: group.name })),
    );
    if (targets.flat().length === 0)
      throw invalidInput(
        'NO_ROLLOUT_TARGETS',
        `no node group of pxeforge.yaml follows ${name} in channel \`${options.channel}\`: there is no node to roll out to`,
        'use `pxeforge promote` for a channel no node boots',
      );
    // Nodes that do not answer now are skipped (they boot the new version when they come up after the rollout), or kept with --include-down.
    const readings = await readAll(tools, targets.flat());
    const skipped = targets
      .flat()
      .flatMap((node, index) =>
        readings[index]!.kind === 'unreachable' && !options.includeDown ? [{ ...node, why: readings[index]!.problem }] : [],
      );
    const skippedMacs = new Set(skipped.map((node) => node.mac));
    const ordered = interleave(targets.map((members) => members.filter((node) => !skippedMacs.has(node.mac))));
    if (ordered.length === 0)
      throw new UserError(
        'NO_ROLLOUT_TARGETS',
        `none of the ${targets.flat().length} node(s) of ${name} in \`${options.channel}\` answers`,
        {
          hint: 'nothing was changed. `pxeforge fleet status` says why; --include-down rolls out to them anyway',
          exitCode: ExitCode.failure,
        },
      );
    tools.ops.checkReboot?.(ordered);
    const now = new Date().toISOString();
    const rollout: Rollout = {
      schemaVersion: 1,
      id: `${now.replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`,
      image: name,
      channel: options.channel,
      from: served.version,
      to: version,
      reason: options.reason ?? null,
      startedAt: now,
      by: currentUser(),
      host: os.hostname(),
      options: {
        waves: options.waves,
        maxFailures: options.maxFailures ?? '0',
        healthTimeoutSeconds,
        includeDown: options.includeDown === true,
        forced: options.force === true && !promotable.verdict.ok,
        allowDirty: options.allowDirty === true && promotable.manifest.git.dirty,
      },
      state: 'running',
      aborting: false,
      skipped,
      waves: planWaves(ordered, steps).map((nodes, index) => ({
        number: index + 1,
        budget: waveBudget(budget, nodes.length),
        nodes,
        ...unstarted(),
      })),
      log: [],
      updatedAt: now,
    };
    note(
      rollout,
      `planned ${rollout.waves.length} wave(s) of ${rollout.waves.map((w) => w.nodes.length).join(', ')} node(s) from ${served.version} to ${version}`,
    );
    for (const node of skipped) note(rollout, `skipped ${nodeName(node)}: ${node.why}`);
    // Requests left for an earlier rollout are not this one's.
    await Promise.all([rm(rp.pause, { force: true }), rm(rp.abort, { force: true })]);
    await writeRollout(rp, rollout);
    await tools.step?.('planned');
    return run(tools, rp, rollout, promotable);
  });
}

/** `rollout resume`: continues a running (killed), paused or stopped rollout from where its record says it is. */
export async function resumeRollout(tools: RolloutTools): Promise<RolloutOutcome> {
  const rp = rolloutPaths(tools.paths);
  return withController(tools, rp, 'rollout resume', async () => {
    const rollout = await requireActive(rp);
    await checkUnchanged(tools, rollout);
    await rm(rp.pause, { force: true }); // resuming answers a pause; an abort asked for still stands
    if (rollout.state !== 'running') note(rollout, `resumed (was ${rollout.state})`);
    else note(rollout, 'resumed after its controller stopped');
    rollout.state = 'running';
    await writeRollout(rp, rollout);
    return run(tools, rp, rollout, undefined);
  });
}

/**
 * `rollout pause`: a running controller stops before its next wave (the wave in progress
 * finishes its gate); a rollout with no controller is paused at once.
 */
export async function pauseRollout(tools: TreeTools): Promise<{ rollout: Rollout; requested: boolean }> {
  const rp = rolloutPaths(tools.paths);
  const rollout = await requireActive(rp);
  if (await controllerAlive(rp)) {
    await touch(rp.pause);
    return { rollout, requested: true };
  }
  return withController({ ...tools }, rp, 'rollout pause', async () => {
    const held = await requireActive(rp);
    if (held.state !== 'paused') {
      held.state = 'paused';
      note(held, 'paused');
      await writeRollout(rp, held);
    }
    return { rollout: held, requested: false };
  });
}

/**
 * `rollout abort`: every node the rollout moved goes back to the old version in one switch, is
 * rebooted and waited for. A running controller is asked to do it (it stops its wave at the next
 * read); otherwise this process does it.
 */
export async function abortRollout(
  tools: RolloutTools,
  reason: string | undefined,
): Promise<RolloutOutcome | { requested: true; rollout: Rollout }> {
  const rp = rolloutPaths(tools.paths);
  const rollout = await requireActive(rp);
  if (await controllerAlive(rp)) {
    await touch(rp.abort);
    return { requested: true, rollout };
  }
  return withController(tools, rp, 'rollout abort', async () => {
    const held = await requireActive(rp);
    if (reason !== undefined) note(held, `abort: ${reason}`);
    return abortAll(tools, rp, held);
  });
}

/** The record and whether a controller works on it now. */
export async function rolloutStatus(
  tools: Pick<TreeTools, 'paths'>,
): Promise<{ rollout: Rollout | undefined; controller: string | undefined }> {
  const rp = rolloutPaths(tools.paths);
  const rollout = await readRollout(rp);
  const lock = await readLock(rp.lock);
  return { rollout, controller: lock !== undefined && lock.state !== 'dead' ? describeOwner(lock) : undefined };
}

async function requireActive(rp: RolloutPaths): Promise<Rollout> {
  const rollout = await readRollout(rp);
  if (rollout === undefined || !isActive(rollout))
    throw invalidInput(
      'NO_ROLLOUT',
      rollout === undefined
        ? 'no rollout has been started in this tree'
        : `the latest rollout (${rollout.image}@${rollout.to} in ${rollout.channel}) is ${rollout.state}`,
      'start one with `pxeforge rollout start <name>@<version> --channel <c> --waves 1,10%,100%`',
    );
  return rollout;
}

async function controllerAlive(rp: RolloutPaths): Promise<boolean> {
  const lock = await readLock(rp.lock);
  return lock !== undefined && lock.state !== 'dead';
}

/** Runs `work` as the rollout's one controller; a controller killed earlier (its lock dead) is taken over. */
async function withController<T>(
  tools: Pick<TreeTools, 'paths' | 'emit' | 'signal'>,
  rp: RolloutPaths,
  command: string,
  work: () => Promise<T>,
): Promise<T> {
  const lock = await readLock(rp.lock);
  if (lock !== undefined && lock.state !== 'dead')
    throw invalidInput(
      'ROLLOUT_ACTIVE',
      `a rollout controller is running: ${describeOwner(lock)}`,
      '`pxeforge rollout pause` or `pxeforge rollout abort` asks it to stop; `pxeforge rollout status` shows where it is',
    );
  const held = await acquireTreeLock(rp.lock, { command, waitMs: 0, emit: tools.emit, signal: tools.signal });
  try {
    await removeStaleFiles(rp);
    return await work();
  } finally {
    await held.release();
  }
}

/** Record copies half-written by a killed controller. */
async function removeStaleFiles(rp: RolloutPaths): Promise<void> {
  const dir = path.dirname(rp.record);
  const prefix = `${path.basename(rp.record)}.tmp-`;
  for (const name of await readdir(dir).catch(() => [] as string[]))
    if (name.startsWith(prefix) && !name.startsWith(`${prefix}${process.pid}-`)) await rm(path.join(dir, name), { force: true });
}

/** A resumed rollout whose channel was changed under it (its old version is not served any more) is not continued. */
async function checkUnchanged(tools: RolloutTools, rollout: Rollout): Promise<void> {
  const current = await readCurrent(tools.paths);
  const served = current?.state.channels[rollout.channel]?.[rollout.image];
  const pending = current?.state.rollouts?.[rollout.channel]?.[rollout.image];
  if (served?.version === rollout.to && pending === undefined) return; // completed in the tree; run() records it
  if (served?.version !== rollout.from || (pending !== undefined && pending.version !== rollout.to))
    throw channelChanged(rollout, served?.version);
}

/** The channel serves another version than the one the rollout started from: it was changed outside the rollout. */
function channelChanged(rollout: Rollout, serving: string | undefined) {
  return invalidInput(
    'ROLLOUT_CHANGED',
    `channel \`${rollout.channel}\` serves ${rollout.image}@${serving ?? '(nothing)'} now, not ${rollout.from} as when the rollout of ${rollout.to} started`,
    'nothing was changed; the channel was changed outside the rollout: `pxeforge rollout abort` ends the rollout',
  );
}

async function run(tools: RolloutTools, rp: RolloutPaths, rollout: Rollout, promotable: Promotable | undefined): Promise<RolloutOutcome> {
  const context = new RunContext(tools, rp, rollout, promotable);
  try {
    if (rollout.aborting) throw new AbortRequested();
    for (const wave of rollout.waves) {
      if (wave.state === 'passed') continue;
      if (wave.state === 'rolled back') resetWave(rollout, wave);
      if (wave.state === 'pending') {
        const asked = await context.request();
        if (asked === 'pause') {
          rollout.state = 'paused';
          note(rollout, `paused before wave ${wave.number}`);
          await writeRollout(rp, rollout);
          return { rollout, exitCode: ExitCode.ok };
        }
      }
      if ((await context.runWave(wave)) === 'failed') {
        // An abort asked for while the wave was being moved back is done now, not left for a later resume.
        if (await exists(rp.abort)) throw new AbortRequested();
        await rm(rp.pause, { force: true });
        return { rollout, exitCode: ExitCode.failure };
      }
    }
    await context.complete();
    await Promise.all([rm(rp.pause, { force: true }), rm(rp.abort, { force: true })]);
    return { rollout, exitCode: ExitCode.ok };
  } catch (error) {
    if (!(error instanceof AbortRequested)) throw error;
    return abortAll(tools, rp, rollout);
  }
}

function resetWave(rollout: Rollout, wave: Wave): void {
  note(rollout, `wave ${wave.number} again`);
  Object.assign(wave, unstarted());
}

/** A wave's progress before it starts. */
function unstarted(): Omit<Wave, 'number' | 'budget' | 'nodes'> {
  return {
    state: 'pending',
    generation: null,
    rollbackGeneration: null,
    results: [],
    startedAt: null,
    rebootedAt: null,
    decidedAt: null,
    endedAt: null,
  };
}

/** Moves every moved node back in one switch, reboots them and waits for them on the old version. */
async function abortAll(tools: RolloutTools, rp: RolloutPaths, rollout: Rollout): Promise<RolloutOutcome> {
  const context = new RunContext(tools, rp, rollout, undefined);
  if (!rollout.aborting) {
    rollout.aborting = true;
    note(rollout, 'aborting: every moved node goes back to the old version');
    await writeRollout(rp, rollout);
  }
  await rm(rp.abort, { force: true });
  // The nodes the tree serves the new version to, and those of every wave that got as far as a switch
  // (an abort killed after its switch and before its reboots finds them moved back already).
  const current = await readCurrent(tools.paths);
  const moved = new Set(movedOf(current?.state, rollout));
  const touched = new Set(
    rollout.waves
      .filter((wave) => wave.state !== 'pending' && wave.state !== 'rolled back')
      .flatMap((wave) => wave.nodes.map((n) => n.mac)),
  );
  const nodes = rollout.waves.flatMap((wave) => wave.nodes).filter((node) => moved.has(node.mac) || touched.has(node.mac));
  const back = await context.moveBack(nodes, null);
  rollout.state = 'aborted';
  rollout.aborting = false;
  for (const wave of rollout.waves) if (wave.state !== 'pending' && wave.state !== 'rolled back') wave.state = 'rolled back';
  note(
    rollout,
    `aborted: ${nodes.length} node(s) moved back to ${rollout.from}${back.late.length > 0 ? `; not back in time: ${back.late.join(', ')}` : ''}`,
  );
  await writeRollout(rp, rollout);
  return { rollout, exitCode: back.late.length > 0 ? ExitCode.failure : ExitCode.ok };
}

/** MACs the tree serves the rollout's version to now. */
function movedOf(state: TreeState | undefined, rollout: Pick<Rollout, 'channel' | 'image' | 'to'>): string[] {
  const pending = state?.rollouts?.[rollout.channel]?.[rollout.image];
  return pending === undefined || pending.version !== rollout.to ? [] : Object.keys(pending.nodes);
}

function note(rollout: Rollout, message: string): void {
  rollout.log.push({ at: new Date().toISOString(), message });
}

export function nodeName(node: { host: string | null; mac: string }): string {
  return node.host ?? node.mac;
}

async function readAll(tools: RolloutTools, nodes: readonly RolloutNode[]): Promise<NodeReading[]> {
  const readings: NodeReading[] = new Array(nodes.length);
  await eachLimited([...nodes.keys()], tools.parallel, async (index) => {
    readings[index] = await tools.ops.read(nodes[index]!);
  });
  return readings;
}

async function touch(file: string): Promise<void> {
  await (await open(file, 'a', 0o640)).close();
}

/** One run of the controller over a rollout: the waves' steps, each recorded. */
class RunContext {
  private manifest: Manifest | undefined;

  constructor(
    private readonly tools: RolloutTools,
    private readonly rp: RolloutPaths,
    private readonly rollout: Rollout,
    private promotable: Promotable | undefined,
  ) {}

  private async save(step: string): Promise<void> {
    await writeRollout(this.rp, this.rollout);
    await this.tools.step?.(step);
  }

  /** A pause or abort asked for from another terminal (an abort wins). */
  async request(): Promise<'pause' | undefined> {
    if (await exists(this.rp.abort)) throw new AbortRequested();
    if (await exists(this.rp.pause)) {
      await rm(this.rp.pause, { force: true });
      return 'pause';
    }
    return undefined;
  }

  async runWave(wave: Wave): Promise<'passed' | 'failed'> {
    const { rollout } = this;
    if (wave.state === 'pending') {
      wave.startedAt = new Date().toISOString();
      note(rollout, `wave ${wave.number}: moving ${wave.nodes.map(nodeName).join(', ')} to ${rollout.to}`);
      await this.save(`wave ${wave.number} starting`);
      const result = await this.switchNodes(wave.nodes, 'forward', wave.number);
      wave.generation = result;
      wave.state = 'switched';
      await this.save(`wave ${wave.number} switched`);
    }
    if (wave.state === 'switched' || wave.state === 'rebooting') {
      const resumed = wave.state === 'rebooting';
      wave.state = 'rebooting';
      await this.save(`wave ${wave.number} rebooting`);
      const toReboot = resumed ? await this.notYetOn(wave.nodes, rollout.to, wave.generation!) : wave.nodes;
      await this.reboot(toReboot, `wave ${wave.number}`);
      wave.rebootedAt = new Date().toISOString();
      wave.state = 'checking';
      await this.save(`wave ${wave.number} rebooted`);
    }
    if (wave.state === 'checking') {
      wave.results = await this.gate(wave);
      wave.decidedAt = new Date().toISOString();
      const failed = wave.results.filter((result) => !result.ok);
      for (const result of failed) note(rollout, `wave ${wave.number}: ${nodeName(result)} failed: ${result.check}: ${result.reason}`);
      if (failed.length <= wave.budget) {
        wave.state = 'passed';
        wave.endedAt = wave.decidedAt;
        note(
          rollout,
          `wave ${wave.number} passed${failed.length > 0 ? ` (${failed.length} failure(s) within the budget of ${wave.budget})` : ''}`,
        );
        await this.save(`wave ${wave.number} passed`);
        return 'passed';
      }
      wave.state = 'failed';
      note(
        rollout,
        `wave ${wave.number} failed: ${failed.length} node(s) failed, the budget is ${wave.budget}; moving the wave back to ${rollout.from}`,
      );
      await this.save(`wave ${wave.number} failed`);
    }
    // failed, or rolling back (resumed)
    wave.state = 'rolling back';
    await this.save(`wave ${wave.number} rolling back`);
    const back = await this.moveBack(wave.nodes, wave);
    wave.state = 'rolled back';
    wave.endedAt = new Date().toISOString();
    rollout.state = 'stopped';
    note(
      rollout,
      `wave ${wave.number} moved back to ${rollout.from}${back.late.length > 0 ? `; not back on it within the health timeout: ${back.late.join(', ')}` : ''}; the rollout is stopped`,
    );
    await this.save(`wave ${wave.number} rolled back`);
    return 'failed';
  }

  /** The wave's (or the aborted rollout's) nodes back on the old version: one switch, reboot, wait. */
  async moveBack(nodes: readonly RolloutNode[], wave: Wave | null): Promise<{ late: string[] }> {
    if (nodes.length === 0) return { late: [] };
    const generation = wave?.rollbackGeneration ?? (await this.switchNodes(nodes, 'back', wave?.number ?? null));
    if (wave !== null && wave.rollbackGeneration === null) {
      wave.rollbackGeneration = generation;
      await this.save(`wave ${wave.number} switched back`);
    }
    await this.reboot(await this.notYetOn(nodes, this.rollout.from, generation), 'moving back');
    const deadline = Date.now() + this.rollout.options.healthTimeoutSeconds * 1000;
    const late: string[] = [];
    await eachLimited([...nodes], this.tools.parallel, async (node) => {
      const booted = await this.waitFor(node, this.rollout.from, generation, deadline, false);
      if ('problem' in booted) late.push(nodeName(node));
    });
    return { late: late.sort() };
  }

  /** The channel's last switch: it serves the new version to all, and the rollout leaves the tree. */
  async complete(): Promise<void> {
    const { rollout, tools } = this;
    const promotable = await this.version();
    await applyChange(tools, `rollout complete ${rollout.image}@${rollout.to} --channel ${rollout.channel}`, async (current) => {
      const served = current?.channels[rollout.channel]?.[rollout.image];
      if (served?.version === rollout.to && current?.rollouts?.[rollout.channel]?.[rollout.image] === undefined)
        return { nothing: 'completed already' };
      const next = nextServed(served, promotable, rollout.options.forced);
      return {
        channels: withServed(current!.channels, rollout.channel, rollout.image, next),
        rollouts: withMoved(current!.rollouts, rollout, () => ({})),
        change: this.change('rollout-complete', rollout.from, rollout.to, null, []),
      };
    });
    rollout.state = 'completed';
    note(rollout, `completed: channel ${rollout.channel} serves ${rollout.image}@${rollout.to} to every node`);
    await this.save('completed');
  }

  /** One switch that moves `nodes` to the new version (forward) or back; returns the generation that serves it (an earlier one when it was already so). */
  private async switchNodes(nodes: readonly RolloutNode[], direction: 'forward' | 'back', wave: number | null): Promise<number> {
    const { rollout, tools } = this;
    const macs = nodes.map((node) => node.mac);
    const placing = direction === 'forward' ? await this.placing() : undefined;
    const verb = direction === 'forward' ? 'rollout' : 'rollout-rollback';
    const result: ChangeResult = await applyChange(
      tools,
      `${verb} ${rollout.image}@${rollout.to} --channel ${rollout.channel}`,
      async (current) => {
        const served = current?.channels[rollout.channel]?.[rollout.image];
        if (served?.version !== rollout.from) throw channelChanged(rollout, served?.version);
        const moved = new Set(movedOf(current, rollout));
        const todo = macs.filter((mac) => (direction === 'forward' ? !moved.has(mac) : moved.has(mac)));
        if (todo.length === 0)
          return { nothing: direction === 'forward' ? 'the wave was moved already' : 'the nodes were moved back already' };
        const since = new Date().toISOString();
        return {
          channels: current!.channels,
          rollouts: withMoved(current!.rollouts, rollout, (nodes) =>
            direction === 'forward'
              ? { ...nodes, ...Object.fromEntries(todo.map((mac) => [mac, since])) }
              : Object.fromEntries(Object.entries(nodes).filter(([mac]) => !todo.includes(mac))),
          ),
          ...(placing === undefined ? {} : { place: placing }),
          change: this.change(
            verb,
            direction === 'forward' ? rollout.from : rollout.to,
            direction === 'forward' ? rollout.to : rollout.from,
            wave,
            nodes.filter((node) => todo.includes(node.mac)).map(nodeName),
          ),
        };
      },
    );
    await tools.step?.(`${verb} ${wave ?? 'all'} switched, not yet recorded`);
    return result.generation!;
  }

  private change(
    action: 'rollout' | 'rollout-rollback' | 'rollout-complete',
    from: string,
    to: string,
    wave: number | null,
    nodes: string[],
  ) {
    const { rollout } = this;
    return {
      action,
      channel: rollout.channel,
      image: rollout.image,
      from,
      to,
      reason: rollout.reason,
      forced: rollout.options.forced,
      allowDirty: rollout.options.allowDirty,
      commit: this.manifest?.git.commit ?? null,
      dirty: this.manifest?.git.dirty ?? false,
      testReport: this.promotable?.verdict.digest ?? null,
      wave,
      nodes,
    };
  }

  /** The new version checked (as promote checks it), from the store: once per run. */
  private async version(): Promise<Promotable> {
    if (this.promotable === undefined) {
      const { rollout, tools } = this;
      this.promotable = await checkPromotable(tools, {
        image: `${rollout.image}@${rollout.to}`,
        channel: rollout.channel,
        reason: rollout.reason ?? undefined,
        force: rollout.options.forced,
        allowDirty: rollout.options.allowDirty,
      });
    }
    this.manifest = this.promotable.manifest;
    return this.promotable;
  }

  /** Placing the new version in the tree (a no-op when it is there). */
  private async placing(): Promise<{ manifest: Manifest; run: () => Promise<void> }> {
    const { manifest, dir } = await this.version();
    return { manifest, run: async () => void (await placeVersion(this.tools.paths, manifest, dir)) };
  }

  private async reboot(nodes: readonly RolloutNode[], what: string): Promise<void> {
    if (nodes.length === 0) return;
    note(this.rollout, `${what}: rebooting ${nodes.map(nodeName).join(', ')}`);
    const failed = await this.tools.ops.reboot(nodes);
    for (const [mac, problem] of failed) {
      const node = nodes.find((n) => n.mac === mac);
      note(this.rollout, `${what}: the reboot command failed for ${node === undefined ? mac : nodeName(node)}: ${problem}`);
    }
  }

  /** Nodes whose boot record does not show `version` from `generation` on (those a reboot has not reached yet). */
  private async notYetOn(nodes: readonly RolloutNode[], version: string, generation: number): Promise<RolloutNode[]> {
    const readings = await readAll(this.tools, nodes);
    return nodes.filter((_, index) => {
      const reading = readings[index]!;
      return !(reading.kind === 'record' && booted(reading.record, this.rollout.image, version, generation));
    });
  }

  /** Waits (until `deadline`) for a node's record to show `version` booted from `generation` on; the record or why not. */
  private async waitFor(
    node: RolloutNode,
    version: string,
    generation: number,
    deadline: number,
    abortable: boolean,
  ): Promise<{ record: NonNullable<Extract<NodeReading, { kind: 'record' }>['record']> } | { problem: string }> {
    let last = 'no answer yet';
    for (;;) {
      this.tools.signal.throwIfAborted();
      if (abortable && (await exists(this.rp.abort))) throw new AbortRequested();
      const reading = await this.tools.ops.read(node);
      if (reading.kind === 'record') {
        if (booted(reading.record, this.rollout.image, version, generation)) return { record: reading.record };
        last = `it runs ${reading.record.image ?? '?'}@${reading.record.version ?? '?'} (generation ${reading.record.generation ?? '?'})`;
      } else last = reading.problem;
      if (Date.now() >= deadline)
        return {
          problem: `not booted into ${this.rollout.image}@${version} within ${this.rollout.options.healthTimeoutSeconds} s: ${last}`,
        };
      await sleep(Math.min(this.tools.pollMs ?? 3000, Math.max(0, deadline - Date.now())), undefined, { signal: this.tools.signal });
    }
  }

  /** Each node of the wave: booted the new version (a verified root where the format fetches it), then the recipe's and the site's checks. */
  private async gate(wave: Wave): Promise<GateResult[]> {
    const { rollout, tools } = this;
    const manifest = await readPlacedManifest(tools.paths, rollout.image, rollout.to);
    const fetchesRoot = getFormat(manifest.format).rootUrlArtifact !== undefined;
    const checks: CheckSpec[] = [...manifest.recipe.tests.checks, ...tools.siteChecks];
    const deadline = Date.now() + rollout.options.healthTimeoutSeconds * 1000;
    const results: GateResult[] = new Array(wave.nodes.length);
    await eachLimited([...wave.nodes.keys()], tools.parallel, async (index) => {
      results[index] = await this.gateNode(wave.nodes[index]!, wave.generation!, fetchesRoot, checks, deadline);
    });
    return results;
  }

  private async gateNode(
    node: RolloutNode,
    generation: number,
    fetchesRoot: boolean,
    checks: CheckSpec[],
    deadline: number,
  ): Promise<GateResult> {
    const { rollout } = this;
    const fail = (check: string, reason: string, output: string | null = null): GateResult => ({
      host: node.host,
      mac: node.mac,
      ok: false,
      check,
      reason,
      output,
    });
    const found = await this.waitFor(node, rollout.to, generation, deadline, true);
    if ('problem' in found) return fail(`booted ${rollout.image}@${rollout.to}`, found.problem);
    if (fetchesRoot && found.record.root.verified !== true)
      return fail('root verified before it was mounted', `root.verified is ${JSON.stringify(found.record.root.verified)}`);
    const checked = await this.tools.ops.check(node, checks);
    if (!checked.ok) return fail(checked.check, checked.reason, checked.output);
    return { host: node.host, mac: node.mac, ok: true, check: null, reason: null, output: null };
  }
}

/** Whether a boot record shows the image's `version` booted from a config of `generation` or later. */
function booted(
  record: { image: string | null; version: string | null; generation: number | null },
  image: string,
  version: string,
  generation: number,
): boolean {
  return record.image === image && record.version === version && record.generation !== null && record.generation >= generation;
}

function withMoved(
  rollouts: TreeState['rollouts'],
  rollout: Pick<Rollout, 'channel' | 'image' | 'to'>,
  update: (nodes: Record<string, string>) => Record<string, string>,
): TreeState['rollouts'] {
  const channel = { ...rollouts?.[rollout.channel] };
  const current = channel[rollout.image];
  const nodes = update(current?.version === rollout.to ? current.nodes : {});
  if (Object.keys(nodes).length === 0) delete channel[rollout.image];
  else channel[rollout.image] = { version: rollout.to, nodes };
  return { ...rollouts, [rollout.channel]: channel };
}
