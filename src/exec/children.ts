/**
 * Every child process pxeforge starts runs in its own process group and is tracked here, so
 * that stopping it stops its children too (mmdebstrap → apt → dpkg → maintainer scripts), and
 * so that nothing outlives pxeforge: on exit every tracked group still alive is killed.
 */
const live = new Set<number>();
let hooked = false;

export function trackGroup(pid: number): () => void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const group of live) killGroup(group, 'SIGKILL');
    });
  }
  live.add(pid);
  return () => live.delete(pid);
}

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Process groups still running (for tests that assert nothing is left behind). */
export function liveGroups(): number[] {
  return [...live];
}
