import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

import { z } from 'zod';

import { invalidInput } from '../errors/user-error.js';
import { privateFileMode, type TreePaths } from '../promote/tree.js';
import { readRegularFile } from '../source/read-regular-file.js';
import { fsyncPath } from '../store/store.js';
import { parseRecord } from '../store/record.js';

/**
 * The rollout record, `pxeforge/rollout.json` in the tree beside the generations: the latest
 * rollout, what it planned and how far it got. It is the rollout's memory across a crash of
 * the admin host; what nodes boot is decided by the generations alone (`rollouts` of the
 * state). Every change of it is one atomic rename, written before the step it announces is
 * taken and after the step is done, so a process killed at any point leaves a record that
 * `rollout resume` continues from (each step can be taken again: see rollout.ts).
 */
export const rolloutSchemaVersion = 1;

const nodeSchema = z.object({ host: z.string().nullable(), mac: z.string(), group: z.string() });

/** One node's outcome of a health gate. */
const resultSchema = z.object({
  host: z.string().nullable(),
  mac: z.string(),
  ok: z.boolean(),
  /** The check that failed (or the gate's own step: `booted the new version`), null when ok. */
  check: z.string().nullable(),
  reason: z.string().nullable(),
  /** What the node printed for that check (capped), null when ok. Never printed raw. */
  output: z.string().nullable(),
});
export type GateResult = z.infer<typeof resultSchema>;

export const waveStates = ['pending', 'switched', 'rebooting', 'checking', 'passed', 'failed', 'rolling back', 'rolled back'] as const;
export type WaveState = (typeof waveStates)[number];

const waveSchema = z.object({
  number: z.int().positive(),
  /** How many of its nodes may fail the gate. */
  budget: z.int().nonnegative(),
  nodes: z.array(nodeSchema),
  state: z.enum(waveStates),
  /** The generation that moved its nodes; the one that moved them back. */
  generation: z.int().positive().nullable(),
  rollbackGeneration: z.int().positive().nullable(),
  results: z.array(resultSchema),
  startedAt: z.string().nullable(),
  rebootedAt: z.string().nullable(),
  /** When its gate decided (passed or failed). */
  decidedAt: z.string().nullable(),
  /** When it ended: passed, or its nodes back on the old version. */
  endedAt: z.string().nullable(),
});
export type Wave = z.infer<typeof waveSchema>;

export const rolloutStates = ['running', 'paused', 'stopped', 'completed', 'aborted'] as const;
export type RolloutState = (typeof rolloutStates)[number];

export const rolloutSchema = z.object({
  schemaVersion: z.literal(rolloutSchemaVersion),
  id: z.string(),
  image: z.string(),
  channel: z.string(),
  from: z.string(),
  to: z.string(),
  reason: z.string().nullable(),
  startedAt: z.string(),
  by: z.string(),
  host: z.string(),
  options: z.object({
    waves: z.string(),
    maxFailures: z.string(),
    healthTimeoutSeconds: z.number().positive(),
    includeDown: z.boolean(),
    forced: z.boolean(),
    allowDirty: z.boolean(),
  }),
  /**
   * running: a controller works on it (or did, and was killed: `resume`); paused: stopped before a
   * wave on request; stopped: a wave failed its gate and was moved back (`resume` tries it again,
   * `abort` moves every moved node back); completed and aborted: over.
   */
  state: z.enum(rolloutStates),
  /** An abort asked for and not finished yet: the controller moves every moved node back. */
  aborting: z.boolean(),
  skipped: z.array(nodeSchema.extend({ why: z.string() })),
  waves: z.array(waveSchema),
  /** What happened, oldest first: one line per step, in pxeforge's words. */
  log: z.array(z.object({ at: z.string(), message: z.string() })),
  updatedAt: z.string(),
});
export type Rollout = z.infer<typeof rolloutSchema>;

export const rolloutRecord = { what: 'rollout record', schema: rolloutSchema, schemaVersion: rolloutSchemaVersion };

export interface RolloutPaths {
  record: string;
  /** The controller's lock: held for as long as a `rollout start|resume|abort` works. */
  lock: string;
  /** Requests from other terminals, made by `rollout pause|abort` while a controller runs. */
  pause: string;
  abort: string;
}

export function rolloutPaths(paths: TreePaths): RolloutPaths {
  return {
    record: path.join(paths.base, 'rollout.json'),
    lock: path.join(paths.base, 'rollout.lock'),
    pause: path.join(paths.base, 'rollout.pause'),
    abort: path.join(paths.base, 'rollout.abort'),
  };
}

/** The latest rollout, or undefined when there never was one. A symlink in its place is refused, never followed. */
export async function readRollout(paths: RolloutPaths): Promise<Rollout | undefined> {
  const read = await readRegularFile(paths.record);
  if ('refused' in read) {
    if (read.refused === 'missing') return undefined;
    throw invalidInput('TREE_OBSTACLE', `${paths.record} is a ${read.refused}, not the rollout record pxeforge writes`, 'move it aside');
  }
  return parseRecord(paths.record, read.content.toString('utf8'), rolloutRecord);
}

/** Replaces the record with one rename, flushed before and after: a reader sees the old or the new one, whole. */
export async function writeRollout(paths: RolloutPaths, rollout: Rollout): Promise<void> {
  const text = `${JSON.stringify({ ...rollout, updatedAt: new Date().toISOString() }, null, 1)}\n`;
  const staged = `${paths.record}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(staged, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, privateFileMode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(staged, { force: true });
    throw error;
  }
  await handle.close();
  await rename(staged, paths.record);
  await fsyncPath(path.dirname(paths.record));
}

/** Whether the rollout still has work or nodes on the new version: a new one cannot start then. */
export function isActive(rollout: Rollout | undefined): boolean {
  return rollout !== undefined && (rollout.state === 'running' || rollout.state === 'paused' || rollout.state === 'stopped');
}

/** The nodes of waves whose nodes run (or are being moved to) the new version now. */
export function movedNodes(rollout: Rollout): Wave['nodes'] {
  return rollout.waves.filter((wave) => wave.state !== 'pending' && wave.state !== 'rolled back').flatMap((wave) => wave.nodes);
}
