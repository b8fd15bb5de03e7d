import { execa } from 'execa';

import type { Emit } from '../events/events.js';
import { InterruptedError, UserError } from '../errors/user-error.js';
import { killGroup, trackGroup } from './children.js';
import { outputLines } from './output-lines.js';
import { quoteCommand } from './quote.js';
import { ToolError } from './tool-error.js';

export interface RunOptions {
  cwd?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is closed afterwards; stdin is empty otherwise. */
  input?: string | Buffer;
  /** Read stdin from this file (instead of `input`). */
  stdinFile?: string;
  /** Write stdout to this file (large outputs: compressed images). */
  stdoutFile?: string;
  signal?: AbortSignal;
  emit?: Emit;
  /** Stage name attached to the command and output events. */
  stage?: string;
  /** Keep stdout and return it (for small outputs such as `dpkg-query`); streamed otherwise. */
  capture?: boolean;
  /** How many trailing lines a failure shows; default 20. */
  tailLines?: number;
  /** How long a stopped command gets between SIGTERM and SIGKILL; default 5000 ms. */
  killGraceMs?: number;
  /** What to say when the program is not installed. */
  missingHint?: string;
}

export interface RunResult {
  stdout: string;
}

/**
 * The one way pxeforge runs an external program: argv only, never a shell string. The
 * command is emitted so it can be pasted; each output line is emitted as it arrives; the
 * program runs in its own process group so that stopping it (AbortSignal, Ctrl-C, pxeforge
 * exiting) stops everything it started; a failure becomes a ToolError with the exit
 * meaning and the last lines of output.
 */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('run() needs a program');
  const { emit, stage, signal } = options;
  if (signal?.aborted) throw new InterruptedError(quoteCommand(argv));
  emit?.({ type: 'command', stage, command: quoteCommand(argv) });

  const { tail, handler: lineHandler } = outputLines({ emit, stage, limit: options.tailLines ?? 20 });

  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    stdin: options.stdinFile !== undefined ? { file: options.stdinFile } : options.input === undefined ? 'ignore' : 'pipe',
    stdout: options.stdoutFile !== undefined ? { file: options.stdoutFile } : lineHandler('stdout', options.capture === true),
    stderr: lineHandler('stderr', false),
    buffer: { stdout: options.capture === true, stderr: false },
    detached: true,
    cleanup: false,
    reject: false,
    maxBuffer: 64 * 1024 * 1024,
  });
  const untrack = child.pid === undefined ? () => false : trackGroup(child.pid);
  let killTimer: NodeJS.Timeout | undefined;
  const stop = () => {
    if (child.pid === undefined) return;
    killGroup(child.pid, 'SIGTERM');
    killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), options.killGraceMs ?? 5000);
    killTimer.unref();
  };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const result = await child;
    if (signal?.aborted) throw new InterruptedError(quoteCommand(argv));
    if (result.failed) {
      const code = (result as { code?: string }).code;
      if (code === 'ENOSPC' || /ENOSPC|No space left on device/.test(tail.join('\n'))) {
        throw new UserError('DISK_FULL', `no space left on device while running: ${quoteCommand(argv)}`, {
          hint: 'free space where the store and cache live (see pxeforge.yaml), or prune the cache: pxeforge cache prune',
          cause: result,
        });
      }
      if (code === 'ENOENT') {
        throw new UserError('TOOL_MISSING', `\`${file}\` is not installed (or not on PATH)`, {
          hint: options.missingHint ?? 'run `pxeforge doctor` to see what is missing and how to install it',
        });
      }
      throw new ToolError(argv, result.exitCode, result.signal ?? undefined, relevant(tail));
    }
    return { stdout: typeof result.stdout === 'string' ? result.stdout : '' };
  } finally {
    signal?.removeEventListener('abort', stop);
    if (child.pid !== undefined) {
      // Children the program left behind in its group go with it.
      killGroup(child.pid, 'SIGKILL');
    }
    if (killTimer !== undefined) clearTimeout(killTimer);
    untrack();
  }
}

function relevant(lines: readonly string[]): string[] {
  return lines.filter((line) => line.trim() !== '');
}
