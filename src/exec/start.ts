import { execa } from 'execa';

import type { Emit } from '../events/events.js';
import { killGroup, trackGroup } from './children.js';
import { outputLines } from './output-lines.js';
import { quoteCommand } from './quote.js';

export interface Started {
  pid: number;
  /** Settles when the program ends, however it ends; never rejects. */
  exited: Promise<{ exitCode: number | undefined; signal: string | undefined; tail: string[] }>;
  /** Stops the program and everything it started; resolves once it has ended. */
  stop(): Promise<void>;
}

/**
 * Starts a long-running program (a VM, a server) in its own process group, tracked like
 * every other child. The caller stops it in a `finally`; pxeforge exiting stops it too.
 */
export function start(argv: readonly string[], options: { emit?: Emit; stage?: string; killGraceMs?: number } = {}): Started {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('start() needs a program');
  options.emit?.({ type: 'command', stage: options.stage, command: quoteCommand(argv) });
  const { tail, handler } = outputLines({ emit: options.emit, stage: options.stage, limit: 20 });
  const child = execa(file, args, {
    stdin: 'ignore',
    stdout: handler('stdout', false),
    stderr: handler('stderr', false),
    buffer: false,
    detached: true,
    cleanup: false,
    reject: false,
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${file}`);
  const untrack = trackGroup(pid);
  const exited = child.then(
    (result) => {
      untrack();
      return { exitCode: result.exitCode, signal: result.signal ?? undefined, tail };
    },
    () => {
      untrack();
      return { exitCode: undefined, signal: undefined, tail };
    },
  );
  return {
    pid,
    exited,
    async stop() {
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), options.killGraceMs ?? 3000);
      await exited;
      clearTimeout(timer);
      killGroup(pid, 'SIGKILL');
    },
  };
}
