import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vitest/config';

/**
 * The tests a mutation run uses: those that exercise the pure modules in-process. Tests that
 * run the built dist/ (crash, durability, the real binary) cannot see a mutant, and the ones
 * that spawn servers, builds or boots are slow without covering the pure modules.
 */
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: [
      'test/recipe/**/*.test.ts',
      'test/site/**/*.test.ts',
      'test/source/**/*.test.ts',
      'test/store/**/*.test.ts',
      'test/promote/render.test.ts',
      'test/promote/audit-text.test.ts',
      'test/promote/hardening.test.ts',
      'test/promote/promote.test.ts',
      'test/workflow/**/*.test.ts',
    ],
  },
});
