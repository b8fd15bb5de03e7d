import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { run } from '../exec/run.js';

/** Mount points at or below `dir`, deepest first (the order to unmount them in). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const table = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = path.resolve(dir);
  return table
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === prefix || point.startsWith(`${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below `dir`; lazily where a mount is busy. Never throws for "not mounted". */
export async function unmountAll(dir: string): Promise<void> {
  for (const point of await mountsUnder(dir)) {
    await run(['umount', point]).catch(() => run(['umount', '--lazy', point]).catch(() => undefined));
  }
}

/**
 * Removes a work tree, but only once nothing is mounted inside it: deleting through a bind
 * mount of /dev or /proc would reach the host.
 */
export async function removeWorkTree(dir: string): Promise<void> {
  await unmountAll(dir);
  const left = await mountsUnder(dir);
  if (left.length > 0) throw new Error(`refusing to delete ${dir}: still mounted: ${left.join(', ')}`);
  await rm(dir, { recursive: true, force: true });
}
