import { run } from '../exec/run.js';

/** The recipe repository's commit, whether the recipe's files differ from it, and its time. */
export async function gitProvenance(
  repoRoot: string,
  sources: readonly string[],
): Promise<{ commit: string | null; dirty: boolean; commitTime: number | null }> {
  const git = (args: string[]) => run(['git', '-C', repoRoot, ...args], { capture: true }).then((r) => r.stdout.trim());
  try {
    const commit = await git(['rev-parse', 'HEAD']);
    const commitTime = Number(await git(['log', '-1', '--format=%ct']));
    const status = await git(['status', '--porcelain', '--untracked-files=all', '--', ...sources, 'pxeforge.yaml']);
    return { commit, dirty: status !== '', commitTime };
  } catch {
    return { commit: null, dirty: true, commitTime: null };
  }
}
