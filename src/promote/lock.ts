import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { z } from 'zod';

import { InterruptedError, UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { printable } from '../errors/quote-text.js';
import { privateFileMode } from './tree.js';
import { assertKinds } from './tree-guard.js';

/**
 * One writer per PXE tree, with a lock that works on NFS: the lock is a directory that
 * appears with one rename (atomic on NFS, unlike O_EXCL on old clients) already holding
 * its owner (host, pid, process start time, command). The holder refreshes the
 * directory's mtime as a heartbeat.
 *
 * A lock whose owner died on this host (its pid is gone, or reused: the start time differs)
 * is taken over: the tree is crash-safe by design, and the change that takes over removes
 * what the holder left and appends a missing history line, and says so in its output and
 * its history line. From another host only a stopped heartbeat can be seen, so a silent
 * lock of another host is never taken: `pxeforge unlock --force` is the admin's decision.
 */
/** lock/owner.json: who holds the tree lock. */
const lockOwnerSchema = z.object({
  host: z.string(),
  pid: z.int().positive(),
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat field 22): tells pid reuse apart. */
  processStart: z.string().nullable(),
  user: z.string(),
  command: z.string(),
  since: z.string(),
});
export type LockOwner = z.infer<typeof lockOwnerSchema>;

/** The owner a lock names, or undefined when its owner.json is missing, unreadable or damaged (the heartbeat still tells). */
async function readOwner(lockDir: string): Promise<LockOwner | undefined> {
  const text = await readFile(path.join(lockDir, 'owner.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const checked = lockOwnerSchema.safeParse(JSON.parse(text));
    return checked.success ? checked.data : undefined;
  } catch {
    return undefined;
  }
}

export interface LockStatus {
  owner: LockOwner | undefined;
  /** Seconds since the last heartbeat. */
  heartbeatAgeS: number;
  /** dead: the owner is certainly gone (same host); silent: no heartbeat for a while (other host); alive otherwise. */
  state: 'alive' | 'dead' | 'silent';
}

export const heartbeatMs = 5_000;
const silentAfterMs = 60_000;

export interface HeldLock {
  release(): Promise<void>;
  /** The dead holder whose lock was taken over to get this one, if any. */
  tookOver: LockOwner | undefined;
}

/** How a taken-over lock is described in output and history. */
export function describeTakeover(owner: LockOwner): string {
  return printable(
    `took over the tree lock of pid ${owner.pid} on ${owner.host} (${owner.command}, since ${owner.since}), which is no longer running`,
  );
}

/** The account pxeforge runs as, from the real user id: the `user` of history lines and locks. */
export function currentUser(): string {
  return safeUserName();
}

/**
 * SUDO_USER, when pxeforge runs under sudo: who asked sudo, as sudo (or whoever set the
 * variable) says. Recorded beside the real user as what it is, never instead of it.
 */
export function sudoUser(): string | null {
  const claimed = process.env.SUDO_USER;
  if (claimed === undefined || claimed === '') return null;
  return claimed.replace(/[^A-Za-z0-9._@-]/g, '?').slice(0, 64);
}

function safeUserName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}

async function processStart(pid: number): Promise<string | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return null;
  // Field 2 (comm) may hold spaces and parentheses: count fields after its closing ")".
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? null;
}

export async function readLock(lockDir: string): Promise<LockStatus | undefined> {
  const info = await stat(lockDir).catch(() => undefined);
  if (info === undefined) return undefined;
  const owner = await readOwner(lockDir);
  const heartbeatAgeS = Math.max(0, (Date.now() - info.mtimeMs) / 1000);
  let state: LockStatus['state'] = heartbeatAgeS * 1000 > silentAfterMs ? 'silent' : 'alive';
  if (owner !== undefined && owner.host === os.hostname()) {
    const start = await processStart(owner.pid);
    state = start === null || (owner.processStart !== null && start !== owner.processStart) ? 'dead' : 'alive';
  }
  return { owner, heartbeatAgeS, state };
}

export function describeOwner(status: LockStatus): string {
  const { owner } = status;
  if (owner === undefined) return 'an unknown owner';
  // owner.json is written by whoever can write the tree: shown escaped.
  return printable(`pid ${owner.pid} on ${owner.host} (${owner.user}: ${owner.command}, since ${owner.since})`);
}

/**
 * Takes the tree lock, waiting up to `waitMs` for a live holder. A dead holder fails at
 * once with how to clear it; nothing in the tree is touched before the lock is held.
 */
export async function acquireTreeLock(
  lockDir: string,
  options: { command: string; waitMs: number; emit?: Emit; signal?: AbortSignal },
): Promise<HeldLock> {
  await mkdir(path.dirname(lockDir), { recursive: true });
  // The lock lives in pxeforge's own directory, and is itself a directory: never whatever a planted symlink points at.
  await assertKinds([
    [path.dirname(lockDir), 'dir'],
    [lockDir, 'dir'],
  ]);
  const owner: LockOwner = {
    host: os.hostname(),
    pid: process.pid,
    processStart: await processStart(process.pid),
    user: currentUser(),
    command: options.command,
    since: new Date().toISOString(),
  };
  const deadline = Date.now() + options.waitMs;
  let announced = false;
  let tookOver: LockOwner | undefined;
  for (let attempt = 0; ; attempt += 1) {
    if (options.signal?.aborted) throw new InterruptedError('waiting for the tree lock');
    const staged = `${lockDir}.tmp-${process.pid}-${attempt}-${randomBytes(4).toString('hex')}`;
    await mkdir(staged);
    await writeFile(path.join(staged, 'owner.json'), `${JSON.stringify(owner)}\n`, { mode: privateFileMode });
    const taken = await rename(staged, lockDir).then(
      () => true,
      async (error: NodeJS.ErrnoException) => {
        await rm(staged, { recursive: true, force: true });
        if (error.code === 'ENOTEMPTY' || error.code === 'EEXIST' || error.code === 'EISDIR') return false;
        throw error;
      },
    );
    if (taken) return holdLock(lockDir, tookOver);

    const status = await readLock(lockDir);
    if (status === undefined) continue; // released meanwhile
    if (status.state === 'dead' && status.owner !== undefined) {
      const outcome = await takeOver(lockDir, status.owner);
      if (outcome === 'taken') {
        tookOver = status.owner;
        options.emit?.({ type: 'warning', message: `${describeTakeover(status.owner)}; what it left is cleaned up by this change` });
        continue;
      }
      if (outcome === 'stuck') {
        throw new UserError(
          'STALE_LOCK',
          `the PXE tree is locked by ${describeOwner(status)}, which is no longer running, and an attempt to take it over was itself interrupted`,
          {
            hint: `nothing was changed. Run \`pxeforge verify\`, then \`pxeforge unlock\` to remove the lock (${lockDir})`,
          },
        );
      }
    } else if (status.state === 'dead') {
      throw new UserError('STALE_LOCK', `the PXE tree is locked by ${describeOwner(status)}, which is no longer running`, {
        hint: `nothing was changed. Its owner.json cannot be read; run \`pxeforge verify\`, then \`pxeforge unlock\` to remove the lock (${lockDir})`,
      });
    }
    if (Date.now() >= deadline) {
      const silent =
        status.state === 'silent'
          ? `; no heartbeat for ${Math.round(status.heartbeatAgeS)} s — if that host is down, \`pxeforge unlock --force\``
          : '';
      throw new UserError('TREE_LOCKED', `the PXE tree is locked by ${describeOwner(status)}${silent}`, {
        hint: 'nothing was changed; try again when it finishes, or wait longer with --wait <seconds>',
      });
    }
    if (!announced) {
      options.emit?.({ type: 'info', message: `waiting for the PXE tree lock held by ${describeOwner(status)}` });
      announced = true;
    }
    await sleep(25 + Math.random() * 75, undefined, { signal: options.signal }).catch(() => undefined);
  }
}

/** A claim older than this inside a dead lock belongs to a taker that died too. */
const claimStaleMs = 30_000;

/**
 * Takes over the lock of a dead holder, safely against other processes on this host doing the
 * same: a claim directory made inside the dead lock (mkdir is atomic) admits one taker; it then
 * checks that the lock still names the dead holder and renames it away. Only a claim holder
 * ever renames a dead lock, so a taker can never remove a live lock that replaced it.
 */
async function takeOver(lockDir: string, dead: LockOwner): Promise<'taken' | 'busy' | 'stuck'> {
  const claim = path.join(lockDir, 'takeover');
  const made = await mkdir(claim).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST' || error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (!made) {
    const claimed = await stat(claim).catch(() => undefined);
    return claimed !== undefined && Date.now() - claimed.mtimeMs > claimStaleMs ? 'stuck' : 'busy';
  }
  const owner = await readOwner(lockDir);
  if (
    owner === undefined ||
    owner.pid !== dead.pid ||
    owner.processStart !== dead.processStart ||
    owner.since !== dead.since ||
    owner.host !== dead.host
  ) {
    await rm(claim, { recursive: true, force: true });
    return 'busy';
  }
  const gone = `${lockDir}.released-${process.pid}-${Date.now()}`;
  await rename(lockDir, gone);
  await rm(gone, { recursive: true, force: true });
  return 'taken';
}

function holdLock(lockDir: string, tookOver: LockOwner | undefined): HeldLock {
  const timer = setInterval(() => {
    const now = new Date();
    void utimes(lockDir, now, now).catch(() => undefined);
  }, heartbeatMs);
  timer.unref();
  let released = false;
  return {
    tookOver,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      // Renamed away first so that no one ever sees a half-removed lock directory.
      const gone = `${lockDir}.released-${process.pid}-${Date.now()}`;
      await rename(lockDir, gone);
      await rm(gone, { recursive: true, force: true });
    },
  };
}

/** Lock directories being acquired or released by processes that died meanwhile. */
export async function removeLockLeftovers(lockDir: string): Promise<void> {
  const dir = path.dirname(lockDir);
  const prefix = `${path.basename(lockDir)}.`;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(?:tmp|released)-(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || (await processStart(pid)) !== null) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

/** `pxeforge unlock`: removes the lock of a dead owner, or any lock with `force`. */
export async function breakTreeLock(lockDir: string, force: boolean): Promise<LockStatus | undefined> {
  const status = await readLock(lockDir);
  if (status === undefined) return undefined;
  if (status.state !== 'dead' && !force) {
    const why =
      status.state === 'silent'
        ? `it has had no heartbeat for ${Math.round(status.heartbeatAgeS)} s but its host cannot be checked from here`
        : 'it is still running';
    throw new UserError('LOCK_HELD', `the PXE tree lock is held by ${describeOwner(status)}; ${why}`, {
      hint: status.state === 'silent' ? 'if that host is down, pass --force' : 'wait for it to finish (or stop it)',
    });
  }
  const gone = `${lockDir}.released-${process.pid}-${Date.now()}`;
  await rename(lockDir, gone);
  await rm(gone, { recursive: true, force: true });
  return status;
}
