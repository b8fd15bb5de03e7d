import path from 'node:path';

import { UserError } from '../errors/user-error.js';
import type { Emit } from '../events/events.js';
import { run } from '../exec/run.js';
import { describeExit, ToolError } from '../exec/tool-error.js';
import type { Recipe } from '../recipe/recipe.js';
import { chrootArgv } from './argv.js';
import { copyIntoImage, removeImagePath } from '../rootfs/image-files.js';

/** Runs the recipe's hook scripts inside the image root, in order (within withChroot). */
export async function runHooks(
  root: string,
  repoRoot: string,
  recipe: Recipe,
  sourceDateEpoch: number,
  tools: { emit: Emit; signal: AbortSignal },
): Promise<void> {
  for (const [index, hook] of recipe.hooks.entries()) {
    const inside = `/tmp/pxeforge-hook-${index}`;
    // Placed and removed as the image resolves /tmp (image-files.ts), never on the host.
    await removeImagePath(root, inside);
    await copyIntoImage(root, path.join(repoRoot, hook), inside, 0o755);
    try {
      await run(
        chrootArgv(root, ['/bin/sh', inside], {
          DEBIAN_FRONTEND: 'noninteractive',
          PXEFORGE_IMAGE: recipe.name,
          SOURCE_DATE_EPOCH: String(sourceDateEpoch),
        }),
        { ...tools, stage: 'hooks' },
      );
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      const tail = error.tail.length > 0 ? `\nlast output:\n${error.tail.map((line) => `  | ${line}`).join('\n')}` : '';
      throw new UserError('HOOK_FAILED', `hook ${hook} failed (${describeExit(error.exitCode_, error.signal)})${tail}`, {
        hint: `the hook runs as root inside the image with /bin/sh; try it there: chroot <root> /bin/sh ${hook}`,
        cause: error,
      });
    } finally {
      await removeImagePath(root, inside);
    }
  }
}
