import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { killGroup, liveGroups } from './children.js';

/**
 * Every temporary directory pxeforge makes is registered here. The code that made it removes
 * it in its `finally` (an error, an abort on SIGINT/SIGTERM or a closed stdout all end up
 * there); whatever is still registered when the process exits anyway (`process.exit` on a
 * second Ctrl-C, an uncaught exception) is removed by the exit hook, after the child
 * processes that may still write into it were killed.
 */
const live = new Set<string>();
let hooked = false;

export interface TempDir {
  path: string;
  /** Removes the directory and everything in it; safe to call twice. */
  remove(): Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const group of liveGroups()) killGroup(group, 'SIGKILL');
      for (const dir of live) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  live.add(dir);
  return {
    path: dir,
    async remove() {
      await rm(dir, { recursive: true, force: true });
      live.delete(dir);
    },
  };
}

/** Directories still registered (for tests that assert nothing is left behind). */
export function liveTempDirs(): string[] {
  return [...live];
}
