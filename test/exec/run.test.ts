import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import type { PxeEvent } from '../../src/events/events.js';
import { liveGroups } from '../../src/exec/children.js';
import { run } from '../../src/exec/run.js';
import { ToolError } from '../../src/exec/tool-error.js';
import { InterruptedError, UserError } from '../../src/errors/user-error.js';

function collect() {
  const events: PxeEvent[] = [];
  return { events, emit: (event: PxeEvent) => events.push(event) };
}

/** Running (a zombie has exited: it only waits for its new parent to reap it). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] !== 'Z';
  } catch {
    return false;
  }
}

describe('run', () => {
  it('logs the command pasteably and streams each output line as an event', async () => {
    const { events, emit } = collect();
    await run(['sh', '-c', 'echo one; echo two >&2; printf "three"', 'arg with space'], { emit, stage: 'demo' });
    expect(events[0]).toEqual({
      type: 'command',
      stage: 'demo',
      command: `sh -c 'echo one; echo two >&2; printf "three"' 'arg with space'`,
    });
    const lines = events.filter((e) => e.type === 'output').map((e) => e.type === 'output' && `${e.stream}:${e.line}`);
    expect(lines.sort()).toEqual(['stderr:two', 'stdout:one', 'stdout:three']);
  });

  it('captures stdout on request only', async () => {
    expect((await run(['echo', 'hello'], { capture: true })).stdout).toBe('hello');
    expect((await run(['echo', 'hello'])).stdout).toBe('');
  });

  it('passes argv verbatim: no shell ever sees it', async () => {
    const { stdout } = await run(['printf', '%s|', '$(id)', '; rm -rf /', '`x`'], { capture: true });
    expect(stdout).toBe('$(id)|; rm -rf /|`x`|');
  });

  it('turns a failure into a ToolError with the exit code and the last output lines', async () => {
    const script = 'for i in $(seq 1 30); do echo line$i; done; echo "E: Unable to locate package nope" >&2; exit 100';
    const error = await run(['sh', '-c', script], { tailLines: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).message).toMatchInlineSnapshot(`
      "command failed (exit code 100): sh -c 'for i in $(seq 1 30); do echo line$i; done; echo "E: Unable to locate package nope" >&2; exit 100'
      last output:
        | line29
        | line30
        | E: Unable to locate package nope"
    `);
  });

  it('a full disk is named as such, with where to make room', async () => {
    const error = await run(['sh', '-c', 'echo "write error: No space left on device" >&2; exit 1']).catch((e: unknown) => e);
    expect((error as UserError).code).toBe('DISK_FULL');
    expect((error as UserError).hint).toMatch(/cache prune/);
  });

  it('says what a signal means', async () => {
    const error = await run(['sh', '-c', 'kill -KILL $$']).catch((e: unknown) => e);
    expect((error as ToolError).message).toMatch(
      /^command failed \(killed by SIGKILL \(killed; the kernel OOM killer does this when memory runs out\)\)/,
    );
  });

  it('names a missing program and points to doctor', async () => {
    const error = await run(['pxeforge-no-such-program']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('TOOL_MISSING');
    expect((error as UserError).hint).toMatch(/pxeforge doctor/);
  });

  it('an abort stops the program and everything it started', async () => {
    const controller = new AbortController();
    const { events, emit } = collect();
    // The shell starts a grandchild that would outlive a plain kill of the shell.
    const running = run(['sh', '-c', 'sleep 300 & echo $!; wait'], { signal: controller.signal, emit, killGraceMs: 500 });
    const outcome = running.catch((e: unknown) => e);
    let grandchild: number | undefined;
    for (let i = 0; i < 100 && grandchild === undefined; i += 1) {
      await sleep(20);
      const line = events.find((e) => e.type === 'output');
      if (line?.type === 'output') grandchild = Number(line.line);
    }
    expect(grandchild).toBeGreaterThan(0);
    controller.abort();
    expect(await outcome).toBeInstanceOf(InterruptedError);
    await sleep(100);
    expect(alive(grandchild!)).toBe(false);
    expect(liveGroups()).toEqual([]);
  });

  it('a program that ignores SIGTERM is killed after the grace period', async () => {
    const controller = new AbortController();
    const started = performance.now();
    const running = run(['sh', '-c', 'trap "" TERM; sleep 300 & wait; sleep 300'], { signal: controller.signal, killGraceMs: 300 });
    await sleep(200);
    controller.abort();
    await expect(running).rejects.toBeInstanceOf(InterruptedError);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refuses to start when already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(run(['true'], { signal: controller.signal })).rejects.toBeInstanceOf(InterruptedError);
  });
});
