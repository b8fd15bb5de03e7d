import path from 'node:path';

import { recipeRepo, type RecipeRepo } from '../recipe/repo.js';
import { findRepoRoot } from '../site/site-config.js';
import type { CliIo } from './io.js';

export interface GlobalOptions {
  repo?: string;
  json?: boolean;
}

/** What every verb gets: where to write, the global flags, and the recipe repository. */
export interface CommandContext {
  io: CliIo;
  globals(): GlobalOptions;
  repo(): Promise<RecipeRepo>;
}

export function commandContext(io: CliIo, globals: () => GlobalOptions): CommandContext {
  return {
    io,
    globals,
    async repo() {
      const option = globals().repo;
      const root = option === undefined ? await findRepoRoot(io.cwd) : await findRepoRoot(path.resolve(io.cwd, option));
      return recipeRepo(root);
    },
  };
}
