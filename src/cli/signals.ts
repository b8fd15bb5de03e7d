/**
 * Ctrl-C and SIGTERM abort the running command through one AbortSignal: every stage stops
 * what it started (children, mounts, servers) in its `finally`. A second Ctrl-C exits at
 * once; the exit hook still kills every tracked child process group.
 */
export function abortOnSignals(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`\n${name}: stopping (press Ctrl-C again to exit at once)...\n`);
    controller.abort(new Error(`${name} received`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
