import { ExitCode } from '../errors/user-error.js';

/**
 * Every way out of a command runs the same cleanup: Ctrl-C, SIGTERM and a closed stdout or
 * stderr (`pxeforge test tiny | head -1`: EPIPE) abort the running command through one
 * AbortSignal, and every stage stops what it started (children, mounts, servers, temp dirs)
 * in its `finally`. A second Ctrl-C exits at once; the exit hooks still kill every tracked
 * child process group (exec/children.ts) and remove every temp dir (exec/temp-dirs.ts).
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    process.stderr.write(`\n${name}: stopping (press Ctrl-C again to exit at once)...\n`);
    controller.abort(new Error(`${name} received`));
  };
  const onStreamError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    // The reader went away: nothing more can be shown, so the command stops (and cleans up).
    if (!controller.signal.aborted) controller.abort(new Error('the output was closed'));
  };
  const streams = [process.stdout, process.stderr];
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  for (const stream of streams) stream.on('error', onStreamError);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      for (const stream of streams) stream.off('error', onStreamError);
    },
  };
}
