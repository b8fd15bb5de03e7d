import { open } from 'node:fs/promises';

import { formats } from '../formats/registry.js';

/** Boot phases, in the order a node passes them, read from the serial console. */
export const bootPhases = ['kernel', 'initramfs', 'root mounted', 'multi-user', 'ssh up'] as const;
export type BootPhase = (typeof bootPhases)[number];

const phaseMarkers: [Exclude<BootPhase, 'ssh up'>, RegExp][] = [
  ['kernel', /Linux version \d/],
  ['initramfs', /Run \/init as init process|Unpacking initramfs/],
  // A netboot initrd switches to the real root; a whole-root initramfs has no switch, so
  // systemd's welcome (not the initrd's, which says "Initramfs") marks the root.
  ['root mounted', /Switching root|Welcome to (?![^\n]*Initramfs)/],
  ['multi-user', /Reached target .*(Multi-User System|multi-user\.target)/],
];

/** Console lines that mean the boot cannot succeed: stop at once and say why. */
const fatalMarkers: (readonly [RegExp, string])[] = [
  [/Kernel panic - not syncing/, 'kernel panic'],
  [/Entering emergency mode|dracut:.*emergency shell|Dropping to debug shell|dracut Warning: .*Could not boot/i, 'emergency shell'],
  // Each format's own: a root that could not be fetched, say.
  ...Object.values(formats).flatMap((format) => format.consoleFatalMarkers),
  [/No working init found|Failed to execute \/init/, 'no init found'],
];

export interface ConsoleState {
  phases: Partial<Record<BootPhase, number>>;
  fatal: { reason: string; line: string } | undefined;
}

/** What a console text shows so far (pure: unit-tested on recorded consoles). */
export function readConsole(text: string, elapsedMs: number, state: ConsoleState): ConsoleState {
  const phases = { ...state.phases };
  for (const [phase, marker] of phaseMarkers) if (phases[phase] === undefined && marker.test(text)) phases[phase] = elapsedMs;
  let fatal = state.fatal;
  if (fatal === undefined) {
    for (const line of text.split('\n')) {
      const hit = fatalMarkers.find(([marker]) => marker.test(line));
      if (hit !== undefined) {
        fatal = { reason: hit[1], line: line.trim() };
        break;
      }
    }
  }
  return { phases, fatal };
}

/** The phase a boot got stuck in: the first not reached. */
export function stuckIn(state: ConsoleState): BootPhase {
  return bootPhases.find((phase) => state.phases[phase] === undefined) ?? 'ssh up';
}

export async function consoleTail(file: string, lines = 25): Promise<string[]> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return [];
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 64 * 1024);
    const { buffer } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    return buffer
      .toString('utf8')
      .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .slice(-lines);
  } finally {
    await handle.close();
  }
}

/** Reads what the console file gained since `offset` (it grows while the VM runs). */
export async function readNew(file: string, offset: number): Promise<{ text: string; offset: number }> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (handle === undefined) return { text: '', offset };
  try {
    const { size } = await handle.stat();
    if (size <= offset) return { text: '', offset };
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - offset), 0, size - offset, offset);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), offset: offset + bytesRead };
  } finally {
    await handle.close();
  }
}
