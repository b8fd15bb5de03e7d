import { Command } from 'commander';

import { pruneCache } from '../image/prune.js';
import { ExitCode, invalidInput } from '../errors/user-error.js';
import type { CommandContext } from './context.js';
import { writeLines } from './io.js';
import { requireSite } from './load-site.js';

export function cacheCommand(context: CommandContext, setExit: (code: number) => void): Command {
  const cache = new Command('cache').summary('manage the build step cache');
  cache
    .command('prune')
    .summary('remove cached layers and initrds not used recently')
    .option('--older-than <days>', 'keep entries used within this many days', '0')
    .option('--dry-run', 'only list what would be removed')
    .action(async (options: { olderThan: string; dryRun?: boolean }) => {
      const days = Number(options.olderThan);
      if (!Number.isFinite(days) || days < 0)
        throw invalidInput('BAD_OPTION', `--older-than takes a number of days, got \`${options.olderThan}\``);
      const site = await requireSite(await context.repo(), ['build']);
      const result = await pruneCache(site.cache, days, options.dryRun === true, site.work);
      const verb = options.dryRun ? 'would remove' : 'removed';
      writeLines(context.io.stdout, [
        ...result.removed.map((item) => `${verb} ${item}`),
        `${verb} ${result.removed.length} entries, ${(result.freedBytes / 1024 / 1024).toFixed(0)} MiB`,
      ]);
      setExit(ExitCode.ok);
    });
  return cache;
}
